"""JSONL imports: every row is checked first; then the whole file is written in one transaction,
or nothing is."""

import random

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.core.jobs import job_set, run_all_or_nothing
from apps.corpus.models import Prompt, Response
from apps.imports.models import ImportJob, ImportStatus
from apps.imports.rows import PromptRow, RowError, parse_row
from apps.labeling.services import task_groups_for_prompt, tasks_bulk_create
from apps.projects.models import Project

MAX_STORED_ERRORS = 1000
_PROGRESS_EVERY = 500


@transaction.atomic
def import_job_create(
    *,
    project: Project,
    user: User,
    upload: UploadedFile,
    pair_strategy: str | None = None,
    max_pairs_per_prompt: int | None = None,
) -> ImportJob:
    """Stores the upload and queues the import (the worker starts once this commits)."""
    from apps.imports.tasks import run_import

    if upload.size == 0:
        raise ApplicationError("The file is empty.")
    job = ImportJob.objects.create(
        project=project,
        created_by=user,
        file=upload,
        original_name=upload.name[:255],
        pair_strategy=pair_strategy or project.pair_strategy,
        max_pairs_per_prompt=max_pairs_per_prompt or project.max_pairs_per_prompt,
    )
    transaction.on_commit(lambda: run_import.delay(job.pk))
    return job


def _validate_rows(job: ImportJob) -> tuple[list[PromptRow], list[dict], int]:
    rows, errors, error_count = [], [], 0
    with job.file.open("rb") as handle:
        lines = handle.read().decode("utf-8", errors="strict").splitlines()
    job_set(
        job, status=ImportStatus.VALIDATING, total_rows=sum(1 for line in lines if line.strip())
    )
    processed = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rows.append(parse_row(line=number, raw=raw, kind=job.project.kind))
        except RowError as exc:
            error_count += 1
            if len(errors) < MAX_STORED_ERRORS:
                errors.append({"line": number, "error": str(exc)})
        processed += 1
        if processed % _PROGRESS_EVERY == 0:
            job_set(job, processed_rows=processed)
    job_set(job, processed_rows=processed)
    return rows, errors, error_count


@transaction.atomic
def _write_rows(job: ImportJob, rows: list[PromptRow]) -> dict:
    project = job.project
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                messages=r.messages,
                external_id=r.external_id,
                metadata=r.metadata,
                import_job=job,
            )
            for r in rows
        ],
        batch_size=1000,
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=prompt, text=resp.text, source=resp.source, metadata=resp.metadata)
            for prompt, row in zip(prompts, rows, strict=True)
            for resp in row.responses
        ],
        batch_size=1000,
    )
    rng = random.Random(job.pk)  # sampled pairs are reproducible per import
    groups, offset = [], 0
    for prompt, row in zip(prompts, rows, strict=True):
        own = responses[offset : offset + len(row.responses)]
        offset += len(row.responses)
        index_groups = task_groups_for_prompt(
            kind=project.kind,
            n_responses=len(own),
            strategy=job.pair_strategy,
            limit=job.max_pairs_per_prompt,
            rng=rng,
        )
        fields = {"consequence": row.consequence}
        if row.gold is not None:
            fields.update(is_gold=True, gold_payload=row.gold)
        groups.append((prompt, own, index_groups, fields))
    tasks = tasks_bulk_create(project=project, prompt_groups=groups, import_job=job)
    return {
        "prompts_created": len(prompts),
        "responses_created": len(responses),
        "tasks_created": tasks,
    }


def import_job_run(*, job_id: int) -> ImportJob:
    """Validates and imports the job's file. Safe to run twice: a finished job is left as is,
    and an interrupted one starts over (its write transaction never committed)."""
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    if job.is_finished:
        return job
    return run_all_or_nothing(
        job,
        validate=_validate_rows,
        write=_write_rows,
        failed=ImportStatus.FAILED,
        writing=ImportStatus.WRITING,
        succeeded=ImportStatus.SUCCEEDED,
    )
