"""Snapshots (exports frozen as content-hashed files) and the export jobs that make them."""

import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.exports.files import export_write
from apps.exports.models import ExportJob, JobStatus, Snapshot
from apps.exports.options import ExportOptions, parse_export_options
from apps.projects.models import Project

SNAPSHOT_DIR = "exports/snapshots"
logger = logging.getLogger(__name__)


def _options(*, project: Project, kind: str, options: ExportOptions | dict | None):
    if isinstance(options, ExportOptions):
        return options
    return parse_export_options(kind=kind, project_kind=project.kind, data=options)


def snapshot_create(
    *, project: Project, kind: str, options: ExportOptions | dict | None, user: User | None
) -> Snapshot:
    """Exports `kind` of the project with `options` (see ExportOptions; `format` among them)
    and freezes it: the file is stored under MEDIA_ROOT by the sha256 of its bytes, and never
    rewritten. The same data and options always give the same bytes, hence the same hash."""
    options = _options(project=project, kind=kind, options=options)
    folder = Path(settings.MEDIA_ROOT) / SNAPSHOT_DIR / str(project.pk)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".partial-{uuid.uuid4().hex}"
    try:
        with partial.open("w+b") as out:
            written = export_write(project=project, kind=kind, options=options, out=out)
        final = folder / f"{written.sha256}.{options.format}"
        if final.exists():
            partial.unlink()  # the same bytes are already stored
        else:
            os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return Snapshot.objects.create(
        project=project,
        kind=kind,
        format=options.format,
        options=options.normal(),
        columns=written.columns,
        sha256=written.sha256,
        size_bytes=written.size_bytes,
        row_count=written.stats.rows,
        row_counts=written.stats.as_dict(),
        file_path=str(final.relative_to(settings.MEDIA_ROOT)),
        created_by=user,
    )


@transaction.atomic
def export_job_create(
    *, project: Project, kind: str, options: ExportOptions | dict | None, user: User
) -> ExportJob:
    """Checks the options and queues the export; a worker writes it as a snapshot."""
    from apps.exports.tasks import run_export

    options = _options(project=project, kind=kind, options=options)
    job = ExportJob.objects.create(
        project=project,
        kind=kind,
        format=options.format,
        options=options.normal(),
        created_by=user,
    )
    transaction.on_commit(lambda: run_export.delay(job.pk))
    return job


def export_job_run(*, job_id: int) -> ExportJob:
    """Writes the job's snapshot. Safe to run twice: a finished job is left as it is; a job
    interrupted midway starts over (snapshot files are content-addressed, so nothing doubles)."""
    job = ExportJob.objects.select_related("project", "created_by").get(pk=job_id)
    if job.is_finished:
        return job
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    try:
        snapshot = snapshot_create(
            project=job.project, kind=job.kind, options=job.options, user=job.created_by
        )
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        job.status, job.error, job.finished_at = JobStatus.FAILED, str(exc), timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        return job
    job.status, job.snapshot, job.rows_written = JobStatus.SUCCEEDED, snapshot, snapshot.row_count
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "snapshot", "rows_written", "finished_at"])
    return job
