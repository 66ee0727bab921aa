"""The one import pipeline, for every kind of file import (JSONL prompts, TRL datasets).

A kind supplies its job model, a row parser and a row writer; the pipeline does the rest, on the
job layer (apps/core/jobs.py):
1. claim the job (refused while another worker is alive on it, or once it is finished);
2. check every line in a streaming pass — bounded line length, UTF-8, JSON the database can
   store, the kind's own rules — keeping the first errors, never the rows;
3. if any line is bad, fail the job with each bad line listed: nothing is written;
4. else read the file again and write its rows in batches inside the job's final transaction,
   under the job row's lock, which also marks it succeeded: the rows and `succeeded` commit
   together or not at all, so a second delivery finds it finished and writes nothing.
Every error path ends the job with a reason. A worker that dies leaves the job running with a
silent heartbeat: the reaper queues it again, and it starts over (nothing of it was committed).
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError

from apps.core.errors import ApplicationError
from apps.core.heartbeat import Heartbeat
from apps.core.jobs import (
    JobStatus,
    crash_point,
    is_transient,
    job_claim,
    job_end,
    job_fail_claim,
    job_finishing,
    job_should_stop,
    job_succeed,
    worker_name,
)
from apps.imports.lines import RowError, read_lines
from apps.imports.models import FileImport, ImportPhase

log = logging.getLogger(__name__)

MAX_STORED_ERRORS = 1000
PROGRESS_EVERY = 2000  # lines between progress writes and cancel checks
WRITE_BATCH = 1000  # rows per bulk write
_COUNT_CHUNK = 1 << 20


class RowWriter(Protocol):
    def add(self, rows: list) -> None:
        """Writes these rows (in order; called inside the job's final transaction)."""

    def counters(self) -> dict[str, int]:
        """What was written, as fields of the job."""


@dataclass(frozen=True)
class ImportKind:
    model: type[FileImport]
    parser: Callable[[FileImport], Callable[..., object]]  # job → parse(line=, raw=) → row
    writer: Callable[[FileImport], RowWriter]


@dataclass
class _Checked:
    rows: int = 0
    error_count: int = 0
    errors: list[dict] | None = None
    cancelled: bool = False


class _ClaimLost(Exception):
    """The job is no longer this claim's (the reaper gave it to another worker)."""


def upload_check(upload: UploadedFile) -> None:
    """Refuses an empty upload, or one over ARBITER_IMPORT_MAX_BYTES, before a job exists."""
    if upload.size == 0:
        raise ApplicationError("The file is empty.")
    limit = settings.ARBITER_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise ApplicationError(
            f"The file is {upload.size:,} bytes; imports are limited to {limit:,} bytes "
            "(ARBITER_IMPORT_MAX_BYTES). Split the file, or ask the operator to raise the limit."
        )


def import_run(*, kind: ImportKind, job_id: int, worker: str | None = None) -> FileImport | None:
    """Runs the import once; safe to call again at any point (see the module docstring).
    Returns the job as it stands afterwards (None if it was deleted)."""
    claimed = job_claim(kind.model, job_id, worker=worker or worker_name())
    if claimed is not None:
        with Heartbeat(claimed) as heartbeat:
            _run_claimed(kind, claimed, heartbeat)
    return kind.model.objects.filter(pk=job_id).select_related("project").first()


def _run_claimed(kind: ImportKind, claimed: FileImport, heartbeat: Heartbeat) -> None:
    try:
        checked = _check(kind, claimed)
        if checked.cancelled:
            _finish(claimed, JobStatus.CANCELLED)
        elif checked.error_count or not checked.rows:
            errors = checked.errors or [{"line": 0, "error": "the file holds no rows"}]
            count = checked.error_count or 1
            _finish(
                claimed,
                JobStatus.FAILED,
                error=f"{count} line{'s' if count > 1 else ''} had errors; nothing was imported.",
                errors=errors,
                error_count=count,
            )
        else:
            _progress(claimed, phase=ImportPhase.WRITING)
            crash_point("import.checked")
            # While the rows are written the job row is locked, and the lock is what shows the
            # job alive: the reaper skips locked rows, a second claim waits for the commit. A
            # heartbeat would only wait on the lock too.
            heartbeat.stopped.set()
            heartbeat.join(timeout=5)
            _write(kind, claimed, rows=checked.rows)
    except _ClaimLost:
        log.warning("%s %s was taken over by another worker", kind.model.__name__, claimed.pk)
    except DatabaseError as exc:
        log.exception("%s %s: the database refused the import", kind.model.__name__, claimed.pk)
        if is_transient(exc):  # a lost connection, not the rows: nothing was written, run again
            job_fail_claim(claimed, f"{type(exc).__name__}: {exc}", exc=exc)
            return
        _finish(
            claimed,
            JobStatus.FAILED,
            error=f"The database refused the rows ({exc}); nothing was imported.",
        )
    except Exception as exc:
        log.exception("%s %s failed", kind.model.__name__, claimed.pk)
        _finish(
            claimed,
            JobStatus.FAILED,
            error=f"The import stopped ({type(exc).__name__}: {exc}); nothing was imported.",
        )


def _finish(claimed: FileImport, status: str, *, error: str = "", **fields) -> None:
    with job_finishing(claimed) as job:
        if job is not None:
            job_end(job, status, error=error, **fields)


def _progress(claimed: FileImport, **fields) -> None:
    """Saves progress fields while this claim still holds the job (readers see it at once)."""
    updated = (
        type(claimed)
        .objects.filter(pk=claimed.pk, status=JobStatus.RUNNING, attempts=claimed.attempts)
        .update(**fields)
    )
    if not updated:
        raise _ClaimLost
    crash_point("import.progress")


def _count_lines(job: FileImport) -> int:
    with job.file.open("rb") as handle:
        count, last = 0, b"\n"
        while chunk := handle.read(_COUNT_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _lines(job: FileImport) -> Iterator[tuple[int, str | RowError]]:
    with job.file.open("rb") as handle:
        yield from read_lines(handle, max_line_bytes=settings.ARBITER_IMPORT_MAX_LINE_BYTES)


def _check(kind: ImportKind, claimed: FileImport) -> _Checked:
    """The first pass: every line parsed and checked, nothing kept but the first errors."""
    parse = kind.parser(claimed)
    _progress(
        claimed,
        phase=ImportPhase.VALIDATING,
        total_rows=_count_lines(claimed),
        processed_rows=0,
        errors=[],
        error_count=0,
    )
    checked, errors, lines_read = _Checked(), [], 0
    for number, text in _lines(claimed):
        try:
            if isinstance(text, RowError):
                raise text
            parse(line=number, raw=text)
            checked.rows += 1
        except RowError as exc:
            checked.error_count += 1
            if len(errors) < MAX_STORED_ERRORS:
                errors.append({"line": number, "error": str(exc)})
        lines_read += 1
        if lines_read % PROGRESS_EVERY == 0:
            if job_should_stop(claimed):
                checked.cancelled = True
                return checked
            _progress(claimed, processed_rows=lines_read)
    checked.errors = errors
    _progress(claimed, processed_rows=lines_read, total_rows=lines_read)
    return checked


def _write(kind: ImportKind, claimed: FileImport, *, rows: int) -> None:
    """The second pass, inside the job's final transaction: every row written, then
    `succeeded`, under the job row's lock."""
    parse = kind.parser(claimed)
    with job_finishing(claimed) as job:
        if job is None:
            return
        if job.cancel_requested_at:
            job_end(job, JobStatus.CANCELLED)
            return
        writer = kind.writer(job)
        batch, written = [], 0
        for number, text in _lines(job):
            if isinstance(text, RowError):
                raise RuntimeError(f"line {number} changed after it was checked: {text}")
            batch.append(parse(line=number, raw=text))
            if len(batch) == WRITE_BATCH:
                writer.add(batch)
                written, batch = written + len(batch), []
        if batch:
            writer.add(batch)
            written += len(batch)
        if written != rows:
            raise RuntimeError(
                f"the file changed after it was checked ({rows} rows, now {written})"
            )
        job_succeed(job, **writer.counters())
