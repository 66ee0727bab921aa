"""Training runs, killed at each commit boundary and delivered again, delivered twice at once,
or with their pool process SIGKILLed mid-run: every run ends, each curve has each step once, and
the held-out metrics are written once, with `succeeded`."""

import os
import signal
from collections import Counter

import pytest

from apps.core.jobs import JobStatus
from apps.training.models import RunMetric, TrainingRun
from apps.training.services import training_run_execute, training_run_launch
from tests.apps.core.crash import crash_then_deliver_again, deliver_at_once
from tests.apps.exports.test_crash_consistency import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test's snapshots, checkpoints and models in its own folder: a resumed run must find
    its own checkpoints, never another test's run of the same id."""
    settings.MEDIA_ROOT = tmp_path / "media"


# About 32 training pairs in batches of 4, twice: some 16 steps, a checkpoint every 4.
CONFIG = {"num_epochs": 2, "batch_size": 4, "learning_rate": 1e-3, "save_steps": 4}


def launch(project, model_ref, capture_on_commit=None) -> TrainingRun:
    def make():
        return training_run_launch(
            project=project,
            user=project.created_by,
            objective="reward_pairwise",
            config={"model": model_ref, **CONFIG},
        )

    if capture_on_commit is None:
        return make()
    with capture_on_commit(execute=False):  # its message is delivered by each test
        return make()


def assert_ends_as_a_clean_run(run: TrainingRun) -> None:
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.step == run.total_steps >= 12  # the split decides the exact count
    points = Counter(RunMetric.objects.filter(run=run).values_list("name", "step"))
    assert [key for key, count in points.items() if count > 1] == []  # no step twice
    loss_steps = sorted(step for name, step in points if name == "loss")
    assert loss_steps == list(range(1, run.total_steps + 1))  # and none missing
    held_out = {name for name, _ in points if name.startswith("eval/")}
    assert held_out and held_out == {f"eval/{name}" for name in run.metrics}


@pytest.mark.parametrize(
    ("point", "hit", "attempts"),
    [
        ("job.claimed", 1, 2),
        # Progress is saved at each checkpoint (every 4 of some 16 steps) and every 0.5 s: the
        # third save exists however fast the machine is.
        ("training.progress_saved", 3, 2),
        ("training.trained", 1, 2),
        ("job.finished", 1, 1),
    ],
)
def test_a_run_killed_at_a_commit_boundary_and_delivered_again_ends_as_a_clean_run(
    point, hit, attempts, labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    run = launch(labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks)

    reached = crash_then_deliver_again(
        lambda: training_run_execute(run_id=run.pk, worker="w"),
        point=point,
        hit=hit,
        capture_on_commit=django_capture_on_commit_callbacks,
    )

    assert reached[-1] == point
    assert_ends_as_a_clean_run(run)
    assert run.attempts == attempts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_train_the_run_once(labeled_project, tiny_bert_ref):
    run = launch(labeled_project, tiny_bert_ref)

    raised = deliver_at_once(lambda worker: training_run_execute(run_id=run.pk, worker=worker))

    assert raised == []
    assert_ends_as_a_clean_run(run)
    assert run.attempts == 1


@pytest.mark.worker
@pytest.mark.postgres
def test_a_run_whose_pool_process_is_killed_resumes_and_finishes(
    start_worker, labeled_project, tiny_bert_ref, tmp_path, settings
):
    flag = tmp_path / "paused"
    worker = start_worker(
        "training",
        name="trainer",
        app="tests.apps.core.pausing_worker",
        pool="prefork",
        ARBITER_TEST_PAUSE_AT="training.progress_saved",
        ARBITER_TEST_PAUSE_FLAG=str(flag),
        ARBITER_STORAGE_ROOT=str(settings.MEDIA_ROOT),
    )
    run = launch(labeled_project, tiny_bert_ref)
    wait_until(flag.exists, what="the run to save its first progress", worker=worker)

    os.kill(int(flag.read_text()), signal.SIGKILL)  # as the kernel's out-of-memory killer would

    wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).is_finished,
        what="the run to end",
        worker=worker,
        timeout=300,
    )
    assert_ends_as_a_clean_run(run)
    assert run.attempts == 2
    assert run.log_lines.filter(line__startswith="Resuming on trainer").exists()


def test_a_database_error_after_training_fails_the_run_with_the_reason(
    labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    from django.db import DataError

    from apps.core import jobs

    run = launch(labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks)

    def refuse(point: str) -> None:
        if point == "training.trained":
            raise DataError("value too long for type character varying(80)")

    jobs._crash_hook = refuse
    try:
        training_run_execute(run_id=run.pk, worker="w")
    finally:
        jobs._crash_hook = None

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED  # never left "running"
    assert run.error == "DataError: value too long for type character varying(80)"
    assert not RunMetric.objects.filter(run=run, name__startswith="eval/").exists()
