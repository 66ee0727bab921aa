"""Snapshots (exports frozen as content-hashed files) and the export jobs that make them."""

import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import translation

from apps.accounts.models import User
from apps.core.heartbeat import Heartbeat
from apps.core.jobs import (
    JobStatus,
    crash_point,
    job_claim,
    job_end,
    job_enqueue,
    job_fail_claim,
    job_finishing,
    job_succeed,
)
from apps.exports.cards import card_facts, dataset_card
from apps.exports.files import export_write
from apps.exports.models import ExportJob, Snapshot
from apps.exports.options import ExportOptions, parse_export_options
from apps.projects.models import Project

SNAPSHOT_DIR = "exports/snapshots"
logger = logging.getLogger(__name__)


def _options(*, project: Project, kind: str, options: ExportOptions | dict | None):
    if isinstance(options, ExportOptions):
        return options
    return parse_export_options(kind=kind, project_kind=project.kind, data=options)


def _snapshot_file_write(*, project: Project, kind: str, options: ExportOptions):
    """Writes the export under MEDIA_ROOT by the sha256 of its bytes, never rewriting a stored
    file (so writing it twice costs time, not space). Returns (written, path)."""
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
    return written, final


def _snapshot_row(*, project, kind, options: ExportOptions, written, path, user) -> Snapshot:
    """Stores the snapshot with its dataset card, which states the project as it stands now."""
    snapshot = Snapshot.objects.create(
        project=project,
        kind=kind,
        format=options.format,
        options=options.normal(),
        columns=written.columns,
        sha256=written.sha256,
        size_bytes=written.size_bytes,
        row_count=written.stats.rows,
        row_counts=written.stats.as_dict(),
        file_path=str(path.relative_to(settings.MEDIA_ROOT)),
        created_by=user,
    )
    with translation.override("en"):  # the card is a file of the dataset: one language, always
        snapshot.card = dataset_card(snapshot=snapshot, facts=card_facts(snapshot=snapshot))
    snapshot.save(update_fields=["card"])
    return snapshot


def snapshot_create(
    *, project: Project, kind: str, options: ExportOptions | dict | None, user: User | None
) -> Snapshot:
    """Exports `kind` of the project with `options` (see ExportOptions; `format` among them)
    and freezes it: the file is stored under MEDIA_ROOT by the sha256 of its bytes, and never
    rewritten. The same data and options always give the same bytes, hence the same hash."""
    options = _options(project=project, kind=kind, options=options)
    written, path = _snapshot_file_write(project=project, kind=kind, options=options)
    return _snapshot_row(
        project=project, kind=kind, options=options, written=written, path=path, user=user
    )


@transaction.atomic
def export_job_create(
    *, project: Project, kind: str, options: ExportOptions | dict | None, user: User
) -> ExportJob:
    """Checks the options and queues the export; a worker writes it as a snapshot."""
    options = _options(project=project, kind=kind, options=options)
    job = ExportJob.objects.create(
        project=project,
        kind=kind,
        format=options.format,
        options=options.normal(),
        created_by=user,
    )
    job_enqueue(job)
    return job


def export_job_run(*, job_id: int, worker: str) -> ExportJob:
    """Writes the job's snapshot, once. The file is content-addressed, so a run cut short and
    run again writes the same bytes to the same place; the Snapshot row and `succeeded` commit
    together, so a second delivery finds the job finished and adds nothing."""
    claimed = job_claim(ExportJob, job_id, worker=worker)
    if claimed is None:
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("project", "created_by").get(pk=claimed.pk)
    try:
        with Heartbeat(claimed):
            options = _options(project=job.project, kind=job.kind, options=job.options)
            written, path = _snapshot_file_write(
                project=job.project, kind=job.kind, options=options
            )
        crash_point("export.file_written")
        with job_finishing(claimed) as locked:
            if locked is None:
                pass
            elif locked.cancel_requested_at:
                job_end(locked, JobStatus.CANCELLED)
            else:
                snapshot = _snapshot_row(
                    project=job.project,
                    kind=job.kind,
                    options=options,
                    written=written,
                    path=path,
                    user=job.created_by,
                )
                job_succeed(locked, snapshot=snapshot, rows_written=snapshot.row_count)
    except Exception as exc:  # any error ends the job with its reason, never "running"
        logger.exception("export job %s failed", job.pk)
        job_fail_claim(claimed, f"{type(exc).__name__}: {exc}", exc=exc)
    return ExportJob.objects.get(pk=job.pk)
