"""The job layer: one life for every background job (training runs, generation jobs, exports,
imports, webhook deliveries).

    queued → running → succeeded | failed | cancelled

A job row moves only through the functions here — claim, heartbeat, finish (succeed / fail /
cancelled), cancel, retry, reap — and every move is checked against one table, `TRANSITIONS`.
A job kind supplies its model (a subclass of the abstract `Job`) and a task; its service does
the work between `job_claim` and `job_finishing`.

The guarantees, given that every Celery message may be delivered twice or be cut short by a
dead process:
- a claim takes the row lock and refuses a job that is finished, or whose worker is alive (its
  heartbeat is fresh); each claim counts one attempt;
- the job's last write and its final status commit in one transaction under the row lock
  (`job_finishing`), so its effect happens once: a second delivery sees it finished and returns;
- a job whose worker went silent is queued again (to resume) or failed with the reason once its
  attempts are spent; a job queued too long is enqueued again (`jobs_reap`, on beat).
"""

import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core import events
from apps.core.errors import Conflict

log = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

# The one table of legal moves. running → running is a claim taken over from a silent worker;
# running → queued is the reaper sending it back; failed/cancelled → queued is a retry.
TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.QUEUED,
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        }
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),
}


class IllegalTransition(Conflict):
    """A move the job's life does not allow (a succeeded job run again, a queued one succeeded)."""


def default_max_attempts() -> int:
    return settings.ARBITER_JOB_MAX_ATTEMPTS


def heartbeat_seconds() -> float:
    return settings.ARBITER_JOB_HEARTBEAT_SECONDS


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this has lost its worker."""
    return timedelta(seconds=settings.ARBITER_JOB_STALE_SECONDS)


def queued_too_long() -> timedelta:
    """A job still queued after this is enqueued again (its message was lost, or never sent)."""
    return timedelta(seconds=settings.ARBITER_JOB_QUEUED_TOO_LONG_SECONDS)


class JobTimes:
    """What a job's status and times say: shared by job rows and the jobs page's union rows."""

    status: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class Job(JobTimes, models.Model):
    """The fields every background job carries. A kind with phases (validating, writing) keeps
    them in its own field: `status` is the job layer's alone."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker claimed it."
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=default_max_attempts, help_text="Claims allowed before it fails for good."
    )
    worker = models.CharField(max_length=200, blank=True, help_text="Who claimed it last.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why it failed (or was given up).")
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When it was last queued (made, requeued or retried)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Emit `job.finished` when it ends. Webhook deliveries do not: a delivery announcing its own
    # end would be sent as another delivery, without end.
    announces_finish: ClassVar[bool] = True

    class Meta:
        abstract = True


# --- kinds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    model: type[Job]
    task: object  # a Celery task, or its dotted import path (resolved when first sent)
    note: Callable[[int, str], None] | None = None  # writes a line to the job's own log
    # Called after any final status of a job of this kind commits, whichever function set it
    # (its own run, a cancel, the reaper): what the kind does when one of its jobs ends.
    on_finished: Callable[[Job], None] | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label

    def send(self, pk: int) -> None:
        task = import_string(self.task) if isinstance(self.task, str) else self.task
        task.delay(pk)


_kinds: dict[type[Job], JobKind] = {}


def register_job_kind(
    model: type[Job],
    *,
    task,
    note: Callable[[int, str], None] | None = None,
    on_finished: Callable[[Job], None] | None = None,
) -> JobKind:
    """Makes a kind known to the reaper and to retry (call it from the app's `ready()`)."""
    kind = JobKind(model=model, task=task, note=note, on_finished=on_finished)
    _kinds[model] = kind
    return kind


def job_kinds() -> list[JobKind]:
    return list(_kinds.values())


def job_kind(model: type[Job]) -> JobKind:
    try:
        return _kinds[model]
    except KeyError:
        raise LookupError(f"{model.__name__} is not a registered job kind") from None


_PROCESS = re.compile(r" pid (?P<pid>\d+) on (?P<machine>\S+)$")


def worker_name(request=None) -> str:
    """Who claims: the Celery worker's name (from the task's request), this process and this
    machine — so that a claim whose process is gone from this machine is known dead at once."""
    name = getattr(request, "hostname", None) or "worker"
    return f"{name} pid {os.getpid()} on {socket.gethostname()}"


def _process_gone(worker: str) -> bool:
    """The claim's process was on this machine and no longer runs (killed, out of memory).
    Claims from elsewhere, or whose process may still run, wait for their heartbeat to go
    stale instead."""
    match = _PROCESS.search(worker)
    if match is None or match["machine"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


def job_enqueue(job: Job) -> None:
    """Sends the job's message once the current transaction commits (never for a rolled-back
    job). Should the send fail, the job stays queued and the reaper sends it again."""
    kind, pk = job_kind(type(job)), job.pk

    def send() -> None:
        try:
            kind.send(pk)
        except Exception:
            log.exception("Could not enqueue %s %s; the reaper will try again", kind.label, pk)

    transaction.on_commit(send)


def _note(job: Job, line: str) -> None:
    kind = _kinds.get(type(job))
    if kind is not None and kind.note is not None:
        kind.note(job.pk, line)


# --- crash points (tests only) -------------------------------------------------------------------


class SimulatedCrash(BaseException):
    """Raised at a crash point by a test: a BaseException, so no `except Exception` in a job's
    error handling catches it — as if the process had died there."""


_crash_hook: Callable[[str], None] | None = None


def crash_point(name: str) -> None:
    """Marks a commit boundary. Does nothing unless a test set a hook (`crash_at`)."""
    if _crash_hook is not None:
        _crash_hook(name)


@contextmanager
def crash_at(name: str, *, hit: int = 1) -> Iterator[list[str]]:
    """Within the block, the `hit`-th time crash point `name` is reached raises SimulatedCrash.
    Yields the list of crash points reached, in order."""
    global _crash_hook
    reached: list[str] = []
    lock = threading.Lock()

    def hook(point: str) -> None:
        with lock:
            reached.append(point)
            crash = point == name and reached.count(point) == hit
        if crash:
            raise SimulatedCrash(point)

    previous, _crash_hook = _crash_hook, hook
    try:
        yield reached
    finally:
        _crash_hook = previous


# --- moves ---------------------------------------------------------------------------------------


def job_transition(job: Job, to: str, **fields) -> Job:
    """The one place a job's status changes: checks the move, stamps the times it implies and
    saves. The caller holds the row lock (inside `job_claim`, `job_finishing`, ...)."""
    if to not in TRANSITIONS[job.status]:
        raise IllegalTransition(
            f"A {job.get_status_display().lower()} job cannot become {to}.",
            extra={"from": job.status, "to": to},
        )
    now = timezone.now()
    fields["status"] = to
    if to == JobStatus.QUEUED:
        fields.setdefault("queued_at", now)
        fields.setdefault("finished_at", None)
    elif to == JobStatus.RUNNING:
        fields.setdefault("started_at", job.started_at or now)
        fields.setdefault("heartbeat_at", now)
    else:
        fields.setdefault("finished_at", now)
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))
    if to in FINISHED:
        transaction.on_commit(lambda: _job_finished(job), robust=True)
    return job


def _job_finished(job: Job) -> None:
    """After a job's final status commits: the `job.finished` domain event, for the job's
    project (a kind may opt out: see `Job.announces_finish`), and the kind's own `on_finished`."""
    kind = _kinds.get(type(job))
    if kind is not None and kind.on_finished is not None:
        kind.on_finished(job)
    if not job.announces_finish:
        return
    events.emit(
        events.EventName.JOB_FINISHED,
        project_id=getattr(job, "project_id", None),
        payload={
            "kind": job._meta.label,
            "job": job.pk,
            "status": job.status,
            "error": job.error,
            "attempts": job.attempts,
        },
    )


def _locked(model: type[Job], pk: int) -> Job | None:
    return model.objects.select_for_update(of=("self",)).filter(pk=pk).first()


def _silence(job: Job) -> str:
    beat = f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if job.heartbeat_at else "never"
    return f"worker {job.worker or '?'} stopped answering (last heartbeat {beat})"


def _is_live(job: Job, now: datetime) -> bool:
    return bool(
        job.status == JobStatus.RUNNING
        and job.heartbeat_at
        and job.heartbeat_at > now - stale_after()
        and not _process_gone(job.worker)
    )


def job_claim(model: type[Job], pk: int, *, worker: str) -> Job | None:
    """Marks the job running on `worker` and counts an attempt, or returns None when it must
    not run here: it is gone or finished, another worker is alive on it, its cancel came while
    it waited (it is cancelled), or its attempts are spent (it fails with the reason)."""
    now = timezone.now()
    with transaction.atomic():
        job = _locked(model, pk)
        if job is None or job.is_finished or _is_live(job, now):
            return None
        if job.cancel_requested_at:
            job_transition(job, JobStatus.CANCELLED)
            claimed = None
        elif job.attempts >= job.max_attempts:
            reason = f"Gave up after {job.attempts} attempts"
            if job.status == JobStatus.RUNNING:
                reason = f"The {_silence(job)}; gave up after {job.attempts} attempts"
            job_transition(job, JobStatus.FAILED, error=reason + ".")
            claimed = None
        else:
            claimed = job_transition(
                job, JobStatus.RUNNING, worker=worker[:200], attempts=job.attempts + 1
            )
    crash_point("job.claimed")
    return claimed


def job_heartbeat(job: Job) -> bool:
    """Marks the claim alive; False once the job is no longer this claim's (finished, or taken
    over by another worker after this one was thought dead)."""
    return bool(
        type(job)
        .objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts)
        .update(heartbeat_at=timezone.now())
    )


def job_should_stop(job: Job) -> bool:
    """Asked between steps: a cancel was requested (one primary-key lookup)."""
    return type(job).objects.filter(pk=job.pk, cancel_requested_at__isnull=False).exists()


@contextmanager
def job_finishing(claimed: Job) -> Iterator[Job | None]:
    """Opens the job's final transaction: yields the job, locked, while this claim still holds
    it — or None when it does not (finished already, or taken over), and then the caller writes
    nothing. Write the job's last effect and call `job_succeed` / `job_fail` / `job_end` inside:
    they commit together or not at all."""
    with transaction.atomic():
        job = _locked(type(claimed), claimed.pk)
        if job is not None and (
            job.status != JobStatus.RUNNING or job.attempts != claimed.attempts
        ):
            job = None
        yield job
    if job is not None:
        crash_point("job.finished")


def job_end(job: Job, status: str, *, error: str = "", **fields) -> Job:
    if status == JobStatus.FAILED and not error:
        raise ValueError("A failed job needs its reason.")
    return job_transition(job, status, error=error[:10_000], **fields)


def job_succeed(job: Job, **fields) -> Job:
    return job_end(job, JobStatus.SUCCEEDED, **fields)


def job_fail(job: Job, reason: str, **fields) -> Job:
    return job_end(job, JobStatus.FAILED, error=reason, **fields)


def is_transient(exc: BaseException) -> bool:
    """The database connection was lost (its backend ended, the server restarted) or the
    statement lost a deadlock: the same work may well succeed on a later attempt."""
    return isinstance(exc, OperationalError | InterfaceError)


def _drop_broken_connection() -> None:
    """Django opens a new connection on the next query only once the broken one is closed."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if not connection.is_usable():
        connection.close()


def job_fail_claim(
    claimed: Job, reason: str, *, exc: BaseException | None = None, **fields
) -> Job | None:
    """Fails the job this claim holds, in its own transaction (the error path of a kind). When
    the error was transient (`exc`, see `is_transient`) and attempts are left, the job is queued
    again instead, to resume or start over: one dropped connection does not end a job."""
    retry = exc is not None and is_transient(exc)
    if retry:
        _drop_broken_connection()
    with job_finishing(claimed) as job:
        if job is None:
            pass
        elif retry and job.attempts < job.max_attempts:
            job_transition(job, JobStatus.QUEUED)
            _note(job, f"{reason}; queued again (attempt {job.attempts} of {job.max_attempts}).")
            job_enqueue(job)
        else:
            job_fail(job, reason, **fields)
    return job


def job_cancel(model: type[Job], pk: int) -> Job:
    """A queued job is cancelled at once; a running one is asked to stop and ends cancelled
    when its worker next looks (`job_should_stop`) — or when the reaper finds it silent."""
    with transaction.atomic():
        job = _locked(model, pk)
        if job is None:
            raise model.DoesNotExist(f"No {model.__name__} {pk}")
        if job.is_finished:
            raise Conflict(f"The {model._meta.verbose_name} has already {job.status}.")
        job.cancel_requested_at = job.cancel_requested_at or timezone.now()
        job.save(update_fields=["cancel_requested_at"])
        if job.status == JobStatus.QUEUED:
            job_transition(job, JobStatus.CANCELLED)
    return job


def job_retry(model: type[Job], pk: int) -> Job:
    """Queues a failed or cancelled job again with a new attempt budget (it resumes or starts
    over, as its kind does)."""
    with transaction.atomic():
        job = _locked(model, pk)
        if job is None:
            raise model.DoesNotExist(f"No {model.__name__} {pk}")
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise Conflict("Only a failed or cancelled job can be retried.")
        job_transition(
            job, JobStatus.QUEUED, attempts=0, error="", cancel_requested_at=None, worker=""
        )
        job_enqueue(job)
    return job


# --- reaping -------------------------------------------------------------------------------------


def _reap_kind(kind: JobKind, now: datetime) -> dict[str, list[int]]:
    model = kind.model
    outcome: dict[str, list[int]] = {"requeued": [], "failed": [], "cancelled": [], "resent": []}
    with transaction.atomic():
        silent = model.objects.select_for_update(skip_locked=True).filter(
            models.Q(heartbeat_at__lt=now - stale_after()) | models.Q(heartbeat_at__isnull=True),
            status=JobStatus.RUNNING,
        )
        for job in silent:
            reason = f"The {_silence(job)}"
            if job.cancel_requested_at:
                job_transition(job, JobStatus.CANCELLED)
                outcome["cancelled"].append(job.pk)
            elif job.attempts >= job.max_attempts:
                job_transition(
                    job,
                    JobStatus.FAILED,
                    error=f"{reason}, after {job.attempts} attempts.",
                )
                _note(job, f"Failed: {reason.lower()}.")
                outcome["failed"].append(job.pk)
            else:
                job_transition(job, JobStatus.QUEUED)
                _note(job, f"{reason}; queued again to resume.")
                job_enqueue(job)
                outcome["requeued"].append(job.pk)
        waiting = model.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.QUEUED, queued_at__lt=now - queued_too_long()
        )
        for job in waiting:
            # Not a move: the job stays queued, its message is sent again (a duplicate is refused
            # by the claim), and the clock restarts so it is not resent at every beat.
            job.queued_at = now
            job.save(update_fields=["queued_at"])
            job_enqueue(job)
            outcome["resent"].append(job.pk)
    return outcome


def jobs_reap(*, now: datetime | None = None) -> dict[str, dict[str, list[int]]]:
    """One pass over every registered kind: running jobs whose worker went silent are queued
    again (or failed with the reason once their attempts are spent, or cancelled when that was
    asked); jobs queued too long are sent again. Returns what it did, by kind label."""
    now = now or timezone.now()
    return {kind.label: _reap_kind(kind, now) for kind in job_kinds()}
