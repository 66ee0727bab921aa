"""The job layer's one life: legal moves only, claims under a row lock that refuse a live claim,
an attempt cap, a final transaction that happens once, cancel, retry and the reaper."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.core.errors import Conflict
from apps.core.jobs import (
    TRANSITIONS,
    IllegalTransition,
    JobStatus,
    SimulatedCrash,
    crash_at,
    job_cancel,
    job_claim,
    job_fail,
    job_fail_claim,
    job_finishing,
    job_heartbeat,
    job_retry,
    job_should_stop,
    job_succeed,
    job_transition,
    jobs_reap,
)
from tests.apps.core.conftest import SampleEffect, SampleJob, sample_execute

pytestmark = pytest.mark.django_db

ILLEGAL = [
    (source, target)
    for source in JobStatus.values
    for target in JobStatus.values
    if target not in TRANSITIONS[source]
]


def _stale(job: SampleJob, settings) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.ARBITER_JOB_STALE_SECONDS + 5)
    SampleJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_an_illegal_move_is_refused_and_nothing_changes(source, target):
    job = SampleJob.objects.create(status=source)

    with pytest.raises(IllegalTransition):
        job_transition(job, target)

    assert SampleJob.objects.get(pk=job.pk).status == source


def test_a_succeeded_job_can_never_move_again():
    assert TRANSITIONS[JobStatus.SUCCEEDED] == frozenset()


def test_a_queued_job_cannot_succeed_without_being_claimed():
    job = SampleJob.objects.create()

    with pytest.raises(IllegalTransition):
        job_succeed(job)


def test_a_failure_needs_its_reason():
    claimed = job_claim(SampleJob, SampleJob.objects.create().pk, worker="w1")

    with job_finishing(claimed) as job, pytest.raises(ValueError):
        job_fail(job, "")


def test_a_claim_marks_the_job_running_on_its_worker_and_counts_an_attempt():
    job = SampleJob.objects.create()

    claimed = job_claim(SampleJob, job.pk, worker="w1")

    job.refresh_from_db()
    assert claimed is not None
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert job.started_at is not None and job.heartbeat_at is not None


def test_a_live_claim_is_refused():
    job = SampleJob.objects.create()
    job_claim(SampleJob, job.pk, worker="w1")

    assert job_claim(SampleJob, job.pk, worker="w2") is None

    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "w1", 1)


def test_a_stale_claim_is_taken_over_with_one_more_attempt(settings):
    job = SampleJob.objects.create()
    first = job_claim(SampleJob, job.pk, worker="w1")
    _stale(job, settings)

    second = job_claim(SampleJob, job.pk, worker="w2")

    job.refresh_from_db()
    assert second is not None
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "w2", 2)
    # The first worker, if it was only slow, no longer holds the job: it writes nothing.
    with job_finishing(first) as locked:
        assert locked is None
    assert job_heartbeat(first) is False
    assert job_heartbeat(second) is True


def test_a_claim_past_the_attempt_cap_fails_the_job_with_the_reason(settings):
    job = SampleJob.objects.create(max_attempts=2)
    job_claim(SampleJob, job.pk, worker="w1")
    _stale(job, settings)
    job_claim(SampleJob, job.pk, worker="w2")
    _stale(job, settings)

    assert job_claim(SampleJob, job.pk, worker="w3") is None

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 2
    assert "worker w2 stopped answering" in job.error
    assert "gave up after 2 attempts" in job.error
    assert job.finished_at is not None


def test_a_finished_job_is_not_claimed():
    job = SampleJob.objects.create()
    sample_execute(job.pk)

    assert job_claim(SampleJob, job.pk, worker="w2") is None
    assert SampleJob.objects.get(pk=job.pk).attempts == 1


def test_a_second_delivery_after_success_is_a_no_op():
    job = SampleJob.objects.create(items=4)

    sample_execute(job.pk, worker="w1")
    again = sample_execute(job.pk, worker="w2")

    job.refresh_from_db()
    assert again is None
    assert (job.status, job.written, job.attempts) == (JobStatus.SUCCEEDED, 4, 1)
    assert SampleEffect.objects.filter(job=job).count() == 4


def test_a_second_finish_of_the_same_claim_writes_nothing():
    claimed = job_claim(SampleJob, SampleJob.objects.create().pk, worker="w1")
    with job_finishing(claimed) as job:
        job_succeed(job, written=1)

    with job_finishing(claimed) as job:
        assert job is None
    assert job_fail_claim(claimed, "too late") is None
    assert SampleJob.objects.get(pk=claimed.pk).status == JobStatus.SUCCEEDED


def test_the_effect_and_the_final_status_roll_back_together():
    claimed = job_claim(SampleJob, SampleJob.objects.create(items=3).pk, worker="w1")

    with pytest.raises(RuntimeError), job_finishing(claimed) as job:
        SampleEffect.objects.create(job=job, item=0)
        job_succeed(job, written=1)
        raise RuntimeError("the database refused the next row")

    assert SampleEffect.objects.count() == 0
    assert SampleJob.objects.get(pk=claimed.pk).status == JobStatus.RUNNING
    job_fail_claim(claimed, "the database refused the next row")
    job = SampleJob.objects.get(pk=claimed.pk)
    assert (job.status, job.error) == (JobStatus.FAILED, "the database refused the next row")


def test_a_crash_after_the_final_commit_leaves_the_job_finished_once():
    job = SampleJob.objects.create(items=2)

    with crash_at("job.finished") as reached, pytest.raises(SimulatedCrash):
        sample_execute(job.pk)
    sample_execute(job.pk)

    assert reached == ["job.claimed", "job.finished"]
    assert SampleJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED
    assert SampleEffect.objects.count() == 2


def test_cancelling_a_queued_job_ends_it_at_once():
    job = SampleJob.objects.create()

    job_cancel(SampleJob, job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert sample_execute(job.pk) is None
    assert SampleEffect.objects.count() == 0


def test_cancelling_a_running_job_asks_it_to_stop():
    claimed = job_claim(SampleJob, SampleJob.objects.create().pk, worker="w1")
    assert job_should_stop(claimed) is False

    job_cancel(SampleJob, claimed.pk)

    assert SampleJob.objects.get(pk=claimed.pk).status == JobStatus.RUNNING
    assert job_should_stop(claimed) is True


def test_cancelling_a_finished_job_is_a_conflict():
    job = SampleJob.objects.create()
    sample_execute(job.pk)

    with pytest.raises(Conflict):
        job_cancel(SampleJob, job.pk)


def test_retry_queues_a_failed_job_with_a_new_attempt_budget(
    sample_kind, eager_celery, django_capture_on_commit_callbacks
):
    job = SampleJob.objects.create(status=JobStatus.FAILED, attempts=3, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        job_retry(SampleJob, job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.SUCCEEDED, 1, "")
    assert SampleEffect.objects.filter(job=job).count() == job.items


def test_retry_of_a_running_job_is_a_conflict(sample_kind):
    claimed = job_claim(SampleJob, SampleJob.objects.create().pk, worker="w1")

    with pytest.raises(Conflict):
        job_retry(SampleJob, claimed.pk)


def test_the_reaper_queues_a_silent_job_again_and_it_finishes(
    sample_kind, eager_celery, settings, django_capture_on_commit_callbacks
):
    job = SampleJob.objects.create(items=2)
    job_claim(SampleJob, job.pk, worker="w1")
    _stale(job, settings)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs_reap()

    assert outcome["core.SampleJob"]["requeued"] == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker) == (JobStatus.SUCCEEDED, 2, "eager")
    assert SampleEffect.objects.count() == 2


def test_the_reaper_leaves_a_live_job_alone(sample_kind):
    job = SampleJob.objects.create()
    job_claim(SampleJob, job.pk, worker="w1")

    outcome = jobs_reap()

    assert outcome["core.SampleJob"] == {
        "requeued": [],
        "failed": [],
        "cancelled": [],
        "resent": [],
    }
    assert SampleJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_reaper_fails_a_silent_job_whose_attempts_are_spent(sample_kind, settings):
    job = SampleJob.objects.create(max_attempts=1)
    job_claim(SampleJob, job.pk, worker="w1")
    _stale(job, settings)

    jobs_reap()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The worker w1 stopped answering (last heartbeat ")
    assert job.error.endswith("after 1 attempts.")


def test_the_reaper_cancels_a_silent_job_whose_cancel_was_asked(sample_kind, settings):
    job = SampleJob.objects.create()
    job_claim(SampleJob, job.pk, worker="w1")
    job_cancel(SampleJob, job.pk)
    _stale(job, settings)

    jobs_reap()

    assert SampleJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_the_reaper_sends_again_a_job_queued_too_long(
    sample_kind, eager_celery, settings, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timedelta(seconds=settings.ARBITER_JOB_QUEUED_TOO_LONG_SECONDS + 5)
    lost = SampleJob.objects.create(queued_at=long_ago)
    recent = SampleJob.objects.create()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs_reap()

    assert outcome["core.SampleJob"]["resent"] == [lost.pk]
    assert SampleJob.objects.get(pk=lost.pk).status == JobStatus.SUCCEEDED
    assert SampleJob.objects.get(pk=recent.pk).status == JobStatus.QUEUED


def test_a_job_whose_enqueue_failed_stays_queued_and_the_reaper_sends_it(
    eager_celery, settings, caplog, django_capture_on_commit_callbacks
):
    from apps.core import jobs

    job = SampleJob.objects.create()
    jobs.register_job_kind(SampleJob, task="tests.apps.core.no_such_module.run")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            jobs.job_enqueue(job)
        assert SampleJob.objects.get(pk=job.pk).status == JobStatus.QUEUED
        assert f"Could not enqueue core.SampleJob {job.pk}" in caplog.text

        jobs.register_job_kind(SampleJob, task="tests.apps.core.conftest.run_sample_job")
        later = timezone.now() + timedelta(seconds=settings.ARBITER_JOB_QUEUED_TOO_LONG_SECONDS + 1)
        with django_capture_on_commit_callbacks(execute=True):
            jobs.jobs_reap(now=later)
    finally:
        jobs._kinds.pop(SampleJob, None)

    assert SampleJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_a_claim_whose_process_is_gone_from_this_machine_is_taken_over_at_once():
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    job = SampleJob.objects.create()
    dead = job_claim(SampleJob, job.pk, worker=f"w1 pid {gone.pid} on {socket.gethostname()}")
    assert dead is not None  # its heartbeat is fresh, but its process is gone

    taken = job_claim(SampleJob, job.pk, worker="w2")

    assert taken is not None and taken.attempts == 2


def test_a_fresh_claim_of_a_live_process_or_another_machine_is_refused():
    import os

    job = SampleJob.objects.create()
    job_claim(SampleJob, job.pk, worker=f"w1 pid {os.getpid()} on elsewhere.example")

    assert job_claim(SampleJob, job.pk, worker="w2") is None


LOST_CONNECTION = OperationalError("terminating connection due to administrator command")


def test_a_lost_database_connection_queues_the_job_again_and_it_finishes(
    sample_kind, eager_celery, django_capture_on_commit_callbacks
):
    job = SampleJob.objects.create(items=2)
    claimed = job_claim(SampleJob, job.pk, worker="w1")

    with django_capture_on_commit_callbacks(execute=True):
        job_fail_claim(claimed, "OperationalError: terminating connection", exc=LOST_CONNECTION)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker, job.error) == (
        JobStatus.SUCCEEDED,
        2,
        "eager",
        "",
    )
    assert SampleEffect.objects.filter(job=job).count() == 2


def test_a_lost_database_connection_on_the_last_attempt_fails_the_job_with_the_reason(
    sample_kind, eager_celery, django_capture_on_commit_callbacks
):
    job = SampleJob.objects.create(attempts=2, max_attempts=3)
    claimed = job_claim(SampleJob, job.pk, worker="w1")

    with django_capture_on_commit_callbacks(execute=True):
        job_fail_claim(claimed, "OperationalError: terminating connection", exc=LOST_CONNECTION)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    assert job.error == "OperationalError: terminating connection"
    assert not SampleEffect.objects.filter(job=job).exists()


def test_an_error_that_is_not_transient_fails_the_job_at_once(sample_kind):
    job = SampleJob.objects.create()
    claimed = job_claim(SampleJob, job.pk, worker="w1")

    job_fail_claim(claimed, "ValueError: bad options", exc=ValueError("bad options"))

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.FAILED, 1, "ValueError: bad options")
