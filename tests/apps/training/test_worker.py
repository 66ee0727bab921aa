"""Runs executed by real Celery worker processes on the real broker."""

import os
import signal
import time

import pytest

from apps.projects.models import Membership, Role
from apps.training.models import RunMetric, RunStatus, TrainingRun
from apps.training.services import training_run_cancel, training_run_launch
from tests.apps.training.conftest import seed_pairwise_labels
from tests.factories import ProjectFactory, StaffFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test's runs in its own storage (its workers get it too): a resumed run must find its
    own checkpoints, never those of another test's run with the same id."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def project_with_labels():
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    seed_pairwise_labels(project, prompts=40)
    return project


def wait_for(predicate, *, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            log = worker.log()[-3000:] if worker else ""
            pytest.fail(f"timed out waiting for {what}\n{log}")
        time.sleep(0.25)
    return value


def launch(project, tiny_bert_ref, **config):
    return training_run_launch(
        project=project,
        user=project.created_by,
        objective="reward_pairwise",
        config={"model": tiny_bert_ref, "batch_size": 4, "learning_rate": 1e-3, **config},
    )


def run_status(run):
    run.refresh_from_db()
    return run.status


def test_a_real_worker_trains_a_launched_run_to_success_with_metrics(
    start_worker, project_with_labels, tiny_bert_ref
):
    worker = start_worker("training", name="trainer")
    run = launch(project_with_labels, tiny_bert_ref, num_epochs=2)
    wait_for(
        lambda: run_status(run) in ("succeeded", "failed"),
        timeout=180,
        what="the run to end",
        worker=worker,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert 0.0 <= run.metrics["pairwise_accuracy"] <= 1.0
    assert run.step == run.total_steps > 0
    assert RunMetric.objects.filter(run=run, name="loss").count() >= 1
    assert (worker_dir := run.output_dir) and run.log_lines.filter(
        line__startswith="Starting on"
    ).exists()
    assert worker_dir == f"runs/{run.pk}"


def test_cancel_stops_a_running_run_within_a_few_steps(
    start_worker, project_with_labels, tiny_bert_ref
):
    worker = start_worker("training", name="trainer")
    run = launch(project_with_labels, tiny_bert_ref, num_epochs=100, batch_size=2)
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).step >= 3,
        timeout=120,
        what="3 steps",
        worker=worker,
    )
    training_run_cancel(run=run)
    wait_for(
        lambda: run_status(run) in ("cancelled", "failed", "succeeded"),
        timeout=60,
        what="the cancel",
        worker=worker,
    )
    assert run.status == RunStatus.CANCELLED
    seen = run.log_lines.get(line__startswith="Cancel seen after step").line
    seen_at_step = int(seen.split("step ")[1].split(";")[0])
    # The worker asks after every step, and stops at the step where it saw the request.
    assert run.step - seen_at_step <= 1
    assert run.step < run.total_steps


def test_a_run_whose_worker_is_killed_is_resumed_by_a_new_worker(
    start_worker, project_with_labels, tiny_bert_ref
):
    fast_beats = {"ARBITER_JOB_HEARTBEAT_SECONDS": "0.5", "ARBITER_JOB_STALE_SECONDS": "3"}
    first = start_worker("training", name="doomed", **fast_beats)
    run = launch(project_with_labels, tiny_bert_ref, num_epochs=10, batch_size=2, save_steps=5)
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).step >= 12,
        timeout=120,
        what="12 steps",
        worker=first,
    )
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed_at = TrainingRun.objects.get(pk=run.pk).step
    time.sleep(4)  # let the heartbeat go stale

    second = start_worker("training", name="rescuer", **fast_beats)
    wait_for(
        lambda: run_status(run) in ("succeeded", "failed"),
        timeout=240,
        what="the resumed run",
        worker=second,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    lines = list(run.log_lines.values_list("line", flat=True))
    assert any("stopped answering" in line for line in lines)
    assert any(line.startswith("Resuming on rescuer") for line in lines)
    # It went on from a checkpoint, not from step 0.
    resumed_from = (
        RunMetric.objects.filter(run=run, name="loss").order_by("id").values_list("step", flat=True)
    )
    steps_after_kill = [s for s in resumed_from if s <= killed_at]
    assert len(steps_after_kill) < 2 * killed_at
