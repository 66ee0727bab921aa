"""The shape every file import shares: check every row first, then write the whole file in one
transaction, or write nothing and say which rows were wrong."""

from collections.abc import Callable

from django.db import models
from django.utils import timezone


def job_set(job: models.Model, **fields) -> None:
    """Saves just these fields of a job row (progress is read by other requests meanwhile)."""
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))


def run_all_or_nothing(
    job: models.Model,
    *,
    validate: Callable[[models.Model], tuple[list, list[dict], int]],
    write: Callable[[models.Model, list], dict],
    failed: str,
    writing: str,
    succeeded: str,
) -> models.Model:
    """`validate(job)` returns (rows, first errors, error count); `write(job, rows)` writes all
    rows in one transaction and returns the counters to store on the job."""
    try:
        rows, errors, error_count = validate(job)
    except UnicodeDecodeError as exc:
        rows, errors, error_count = (
            [],
            [{"line": 0, "error": f"the file is not UTF-8 text ({exc.reason})"}],
            1,
        )
    if not error_count and not rows:
        errors, error_count = [{"line": 0, "error": "the file holds no rows"}], 1
    if error_count:
        job_set(
            job, status=failed, errors=errors, error_count=error_count, finished_at=timezone.now()
        )
        return job
    job_set(job, status=writing)
    counters = write(job, rows)
    job_set(job, status=succeeded, finished_at=timezone.now(), **counters)
    return job
