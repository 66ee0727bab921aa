"""Importing datasets in TRL's formats as prompts, responses, tasks and imported judgments.

A pairwise project takes preference rows, a thumbs project unpaired rows. Every row is checked
first; if any is bad nothing is written and each bad row is reported with its line number.
Otherwise the file is written in one transaction. Each row becomes one task judged once by the
file (Judgment.source = "import", source_name = the file's name, no annotator). Rows with the
same prompt share one Prompt, and equal texts of that prompt one Response, so a train/test
split by prompt keeps them together.

Where the chosen response sits (A or B) is drawn per row, reproducibly per import, so that
imported pairs carry no position bias. A margin of 1, 2, 3 or 4 (Arbiter's own scale, as its
exports write it) becomes the strength; any other margin is kept in the task's context, and the
strength is left unknown (null), as it is when there is no margin.
"""

import json
import random

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.core.jobs import job_set, run_all_or_nothing
from apps.corpus.models import Prompt, Response
from apps.exports.import_rows import (
    PreferenceRow,
    RowError,
    UnpairedRow,
    parse_preference_row,
    parse_unpaired_row,
)
from apps.exports.models import DatasetImport, JobStatus
from apps.feedback.models import Judgment, JudgmentSource, Phase
from apps.feedback.payloads import STRENGTHS
from apps.labeling.models import Task, TaskItem
from apps.projects.models import FeedbackKind, Project

MAX_STORED_ERRORS = 1000
_PROGRESS_EVERY = 1000
PARSERS = {FeedbackKind.PAIRWISE: parse_preference_row, FeedbackKind.THUMBS: parse_unpaired_row}


@transaction.atomic
def dataset_import_create(*, project: Project, user: User, upload: UploadedFile) -> DatasetImport:
    """Stores the upload and queues the import (the worker starts once this commits)."""
    from apps.exports.tasks import run_dataset_import

    if project.kind not in PARSERS:
        raise ApplicationError(
            "TRL datasets are imported into pairwise projects (preference rows) or thumbs "
            f"projects (unpaired rows), not into a {project.kind} project."
        )
    if upload.size == 0:
        raise ApplicationError("The file is empty.")
    limit = getattr(settings, "ARBITER_IMPORT_MAX_BYTES", 200 * 2**20)
    if upload.size > limit:
        raise ApplicationError(f"The file is larger than the {limit // 2**20} MiB limit.")
    job = DatasetImport.objects.create(
        project=project, created_by=user, file=upload, original_name=upload.name[:255]
    )
    transaction.on_commit(lambda: run_dataset_import.delay(job.pk))
    return job


def _validate(job: DatasetImport) -> tuple[list, list[dict], int]:
    parse = PARSERS[job.project.kind]
    with job.file.open("rb") as handle:
        lines = handle.read().decode("utf-8", errors="strict").splitlines()
    job_set(job, status=JobStatus.VALIDATING, total_rows=sum(1 for line in lines if line.strip()))
    rows, errors, error_count, processed = [], [], 0, 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rows.append(parse(line=number, raw=raw))
        except RowError as exc:
            error_count += 1
            if len(errors) < MAX_STORED_ERRORS:
                errors.append({"line": number, "error": str(exc)})
        processed += 1
        if processed % _PROGRESS_EVERY == 0:
            job_set(job, processed_rows=processed)
    job_set(job, processed_rows=processed)
    return rows, errors, error_count


def _strength(margin: float | None) -> str | None:
    if margin is not None and margin.is_integer() and 1 <= margin <= len(STRENGTHS):
        return STRENGTHS[int(margin) - 1]
    return None


@transaction.atomic
def _write(job: DatasetImport, rows: list[PreferenceRow] | list[UnpairedRow]) -> dict:
    project = job.project
    marker = {"dataset_import": job.pk}
    prompts: dict[str, Prompt] = {}
    for row in rows:
        key = json.dumps(row.messages, sort_keys=True)
        if key not in prompts:
            prompts[key] = Prompt(
                project=project,
                messages=row.messages,
                external_id=row.external_id,
                metadata=marker,
            )
    Prompt.objects.bulk_create(prompts.values(), batch_size=1000)

    def texts_of(row) -> list[str]:
        return [row.chosen, row.rejected] if isinstance(row, PreferenceRow) else [row.completion]

    responses: dict[tuple[int, str], Response] = {}
    for row in rows:
        prompt = prompts[json.dumps(row.messages, sort_keys=True)]
        for text in texts_of(row):
            if (prompt.pk, text) not in responses:
                responses[(prompt.pk, text)] = Response(
                    prompt=prompt, text=text, source=job.original_name[:200], metadata=marker
                )
    Response.objects.bulk_create(responses.values(), batch_size=1000)

    rng = random.Random(job.pk)  # where the chosen response sits: reproducible per import
    tasks, groups, payloads = [], [], []
    for row in rows:
        prompt = prompts[json.dumps(row.messages, sort_keys=True)]
        context = {**marker, "line": row.line}
        if isinstance(row, PreferenceRow):
            chosen_first = rng.random() < 0.5
            pair = [row.chosen, row.rejected] if chosen_first else [row.rejected, row.chosen]
            group = [responses[(prompt.pk, text)] for text in pair]
            payload = {"choice": "A" if chosen_first else "B", "strength": _strength(row.margin)}
            if row.margin is not None and payload["strength"] is None:
                context["margin"] = row.margin
        else:
            group = [responses[(prompt.pk, row.completion)]]
            payload = {"labels": [row.label]}
        tasks.append(
            Task(
                project=project, prompt=prompt, kind=project.kind, judgment_count=1, context=context
            )
        )
        groups.append(group)
        payloads.append(payload)
    Task.objects.bulk_create(tasks, batch_size=1000)
    TaskItem.objects.bulk_create(
        [
            TaskItem(task=task, response=response, position=position)
            for task, group in zip(tasks, groups, strict=True)
            for position, response in enumerate(group)
        ],
        batch_size=2000,
    )
    Judgment.objects.bulk_create(
        [
            Judgment(
                project=project,
                task=task,
                annotator=None,
                kind=project.kind,
                phase=Phase.MAIN,
                payload=payload,
                display_order=[],
                source=JudgmentSource.IMPORT,
                source_name=job.original_name[:200],
            )
            for task, payload in zip(tasks, payloads, strict=True)
        ],
        batch_size=1000,
    )
    return {
        "prompts_created": len(prompts),
        "responses_created": len(responses),
        "tasks_created": len(tasks),
        "judgments_created": len(tasks),
    }


def dataset_import_run(*, import_id: int) -> DatasetImport:
    """Validates and imports the file. Safe to run twice: a finished import is left as it is,
    and an interrupted one starts over (its write transaction never committed)."""
    job = DatasetImport.objects.select_related("project").get(pk=import_id)
    if job.is_finished:
        return job
    return run_all_or_nothing(
        job,
        validate=_validate,
        write=_write,
        failed=JobStatus.FAILED,
        writing=JobStatus.WRITING,
        succeeded=JobStatus.SUCCEEDED,
    )
