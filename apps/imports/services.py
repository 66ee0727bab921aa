"""JSONL imports of prompts with their responses: every row is checked first; then the whole file
is written in the transaction that marks the job succeeded, or nothing is."""

import random

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.accounts.models import User
from apps.core.jobs import job_enqueue
from apps.corpus.models import Prompt, Response
from apps.imports.models import ImportJob
from apps.imports.pipeline import ImportKind, import_run, upload_check
from apps.imports.rows import PromptRow, parse_row
from apps.labeling.services import task_groups_for_prompt, tasks_bulk_create
from apps.projects.models import Project


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
    upload_check(upload)
    job = ImportJob.objects.create(
        project=project,
        created_by=user,
        file=upload,
        original_name=upload.name[:255],
        pair_strategy=pair_strategy or project.pair_strategy,
        max_pairs_per_prompt=max_pairs_per_prompt or project.max_pairs_per_prompt,
    )
    job_enqueue(job)
    return job


def _parser(job: ImportJob):
    kind = job.project.kind
    return lambda *, line, raw: parse_row(line=line, raw=raw, kind=kind)


class _PromptRowWriter:
    """Writes prompts, their responses and the tasks made of them, one batch at a time."""

    def __init__(self, job: ImportJob):
        self.job, self.project = job, job.project
        self.rng = random.Random(job.pk)  # sampled pairs are reproducible per import
        self.prompts = self.responses = self.tasks = 0

    def add(self, rows: list[PromptRow]) -> None:
        job, project = self.job, self.project
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
            ]
        )
        responses = Response.objects.bulk_create(
            [
                Response(prompt=prompt, text=resp.text, source=resp.source, metadata=resp.metadata)
                for prompt, row in zip(prompts, rows, strict=True)
                for resp in row.responses
            ]
        )
        groups, offset = [], 0
        for prompt, row in zip(prompts, rows, strict=True):
            own = responses[offset : offset + len(row.responses)]
            offset += len(row.responses)
            index_groups = task_groups_for_prompt(
                kind=project.kind,
                n_responses=len(own),
                strategy=job.pair_strategy,
                limit=job.max_pairs_per_prompt,
                rng=self.rng,
            )
            fields = {"consequence": row.consequence}
            if row.gold is not None:
                fields.update(is_gold=True, gold_payload=row.gold)
            groups.append((prompt, own, index_groups, fields))
        self.tasks += tasks_bulk_create(project=project, prompt_groups=groups, import_job=job)
        self.prompts += len(prompts)
        self.responses += len(responses)

    def counters(self) -> dict[str, int]:
        return {
            "prompts_created": self.prompts,
            "responses_created": self.responses,
            "tasks_created": self.tasks,
        }


PROMPT_IMPORT = ImportKind(model=ImportJob, parser=_parser, writer=_PromptRowWriter)


def import_job_run(*, job_id: int, worker: str | None = None) -> ImportJob | None:
    """Checks and imports the job's file (apps/imports/pipeline.py). Safe to run twice, at once
    or after a crash: the rows and `succeeded` commit together, once."""
    return import_run(kind=PROMPT_IMPORT, job_id=job_id, worker=worker)
