"""A training worker set to two processes trains a run under torchrun: live progress, a clean cancel."""

import time

import psutil
import pytest

from apps.projects.models import Membership, Role
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import training_run_cancel, training_run_launch
from tests.apps.training.conftest import seed_pairwise_labels
from tests.factories import ProjectFactory, StaffFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def wait_for(predicate, *, timeout: float, what: str, worker):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{worker.log()[-3000:]}")
        time.sleep(0.25)
    return value


def trainer_ranks(worker) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(worker.proc.pid).children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "trainer" in command and "torch.distributed.run" not in command:
            found.append(child)
    return found


def test_a_two_process_run_shows_progress_and_cancels_every_rank(start_worker, tiny_bert_ref):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    seed_pairwise_labels(project, prompts=40)
    worker = start_worker("training", name="trainer", ARBITER_TRAINING_PROCESSES="2")
    run = training_run_launch(
        project=project,
        user=admin,
        objective="reward_pairwise",
        config={
            "model": tiny_bert_ref,
            "batch_size": 4,
            "learning_rate": 1e-3,
            "num_epochs": 100,
            "num_threads": 1,
            "device": "cpu",
        },
    )
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).step >= 3,
        timeout=180,
        what="3 steps",
        worker=worker,
    )
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.log_lines.filter(line__startswith="training on 2 processes").exists()
    assert len(trainer_ranks(worker)) == 2

    training_run_cancel(run=run)
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).status != RunStatus.RUNNING,
        timeout=90,
        what="the cancel",
        worker=worker,
    )
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED, run.error
    seen = run.log_lines.get(line__startswith="Cancel seen after step").line
    seen_at_step = int(seen.split("step ")[1].split(";")[0])
    # Every rank polls the stop file after each step: the run ends within a step or two of the request.
    assert run.step - seen_at_step <= 2
    assert run.log_lines.filter(line__startswith="stopped on request at step").exists()
    wait_for(lambda: not trainer_ranks(worker), timeout=30, what="the ranks to exit", worker=worker)
