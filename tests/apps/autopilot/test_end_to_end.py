"""The loop with no person after setup: simulated annotators label over the HTTP API, a real
worker with its beat fires the rule, trains and promotes a reward model, trains and promotes a
policy judged by it, and starts the next round, whose generated tasks appear."""

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.autopilot.chains import autopilot_configure
from apps.autopilot.models import ModelDecision, RuleFiring
from apps.autopilot.services import training_rule_create
from apps.corpus.models import Prompt
from apps.generation.models import Round
from apps.labeling.models import Task
from apps.projects.models import Membership, Role
from apps.training.models import TrainingRun
from tests.apps.autopilot.conftest import REWARD_CONFIG, learnable_pair
from tests.conftest import ROOT, subprocess_env
from tests.factories import ProjectFactory, StaffFactory, UserFactory, api_token, make_task
from tests.models_offered import offer
from tests.trainer.tiny import GOOD, build_tiny_gpt2

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THRESHOLD = 24


def label_over_http(project, annotators) -> int:
    """Each annotator asks for work and judges until none is left; the better answer holds
    'good' words. Returns the number of judgments stored."""
    clients = []
    for user in annotators:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user, scope='label')}")
        clients.append(client)
    stored, active = 0, list(clients)
    while active:
        for client in list(active):
            lease = client.post(f"/api/projects/{project.pk}/tasks/next/")
            if lease.status_code == 204:
                active.remove(client)
                continue
            shown = lease.json()["responses"]
            good = next((r for r in shown if set(r["text"].split()) & set(GOOD)), shown[0])
            answer = client.post(
                f"/api/assignments/{lease.json()['assignment']}/judgment/",
                {"payload": {"choice": good["letter"], "strength": "clearly"}},
                format="json",
            )
            assert answer.status_code in (200, 201), answer.content
            stored += 1
    return stored


def wait_for(predicate, *, timeout: float, what: str, log):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{log()[-4000:]}")
        time.sleep(0.5)
    return value


def start_worker_with_beat(tmp_path, settings, name: str) -> tuple[subprocess.Popen, Path]:
    """A real worker on both queues with its beat inside (-B), as bin/demo runs it."""
    log_path = tmp_path / f"{name}.log"
    env = subprocess_env(
        ARBITER_STORAGE_ROOT=str(settings.MEDIA_ROOT),
        ARBITER_AUTOPILOT_CHECK_SECONDS="2",
        # Tiny random policies trained a few steps: the orchestration is under test here, the
        # gate's threshold is tested on its own (test_champions).
        ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE="0",
    )
    out = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-Q", "default,training",
         "--pool=solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "-l", "INFO", "-n", f"{name}-{time.monotonic_ns()}@%h",
         "--schedule", str(tmp_path / f"{name}-beat-schedule")],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the embedded beat goes with it
    )  # fmt: skip
    return worker, log_path


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL to the worker and its embedded beat: no goodbye, as when a machine dies."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
    kill(worker)  # whatever of its group is left (the beat)


def loop_project(tmp_path, settings, tiny_bert_ref, *, policy_config: dict):
    """A project ready for the loop: learnable tasks, fresh prompts, one rule, both chain stages."""
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    settings.MEDIA_ROOT = str(tmp_path / "storage")
    policy_base = offer(settings, build_tiny_gpt2(tmp_path / "policies" / "tiny-gpt2"))
    rng = random.Random(0)
    for _ in range(THRESHOLD):
        _, good, bad = learnable_pair(rng)
        make_task(project, texts=[good, bad] if rng.random() < 0.5 else [bad, good])
    for i in range(4):  # fresh prompts for the next round
        Prompt.objects.create(project=project, messages=[{"role": "user", "content": f"topic {i}"}])
    rule = training_rule_create(
        project=project, user=admin, name="every 24", objective="reward_pairwise",
        config={"model": tiny_bert_ref, **REWARD_CONFIG}, every_labels=THRESHOLD,
    )  # fmt: skip
    autopilot_configure(
        project=project, train_policy=True, base_model=policy_base, policy_objective="dpo",
        policy_config=policy_config, start_round=True, round_prompts=4,
        round_config={"max_tokens": 6, "n_per_prompt": 2},
    )  # fmt: skip
    annotators = [UserFactory() for _ in range(3)]
    for user in annotators:
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    return project, rule, annotators


def round_tasks(project) -> int:
    next_round = Round.objects.filter(project=project).first()
    if next_round is None:
        return 0
    return Task.objects.filter(
        project=project, context__generation_job=next_round.generation_job_id
    ).count()


def test_labels_over_http_drive_the_loop_to_the_next_rounds_tasks(
    transactional_db, tmp_path, settings, tiny_bert_ref
):
    project, rule, annotators = loop_project(
        tmp_path, settings, tiny_bert_ref,
        policy_config={"max_steps": 2, "batch_size": 2, "eval_max_prompts": 2,
                       "eval_max_new_tokens": 4},
    )  # fmt: skip
    worker, log_path = start_worker_with_beat(tmp_path, settings, "loop")
    read_log = log_path.read_text
    try:
        assert label_over_http(project, annotators) == THRESHOLD
        firing = wait_for(
            lambda: RuleFiring.objects.filter(rule=rule).first(),
            timeout=120, what="the rule to fire", log=read_log,
        )  # fmt: skip
        assert firing.labels == THRESHOLD
        decisions = lambda: list(ModelDecision.objects.order_by("id"))  # noqa: E731
        wait_for(lambda: len(decisions()) >= 2, timeout=900, what="two decisions", log=read_log)
        assert [(d.family, d.decision) for d in decisions()] == [
            ("reward", "promoted"),
            ("policy", "promoted"),
        ], [d.reason for d in decisions()]
        reward, policy = (d.run for d in decisions())
        assert reward.pk == firing.run_id
        assert policy.config["judge_reward_model"] == f"run:{reward.pk}"
        wait_for(
            lambda: round_tasks(project), timeout=300, what="the next round's tasks", log=read_log
        )
        assert Round.objects.get(project=project).generating_run_id == policy.pk
        assert round_tasks(project) == 4
    finally:
        stop(worker)


def test_a_worker_killed_in_the_middle_of_a_chained_step_resumes_the_chain(
    transactional_db, tmp_path, settings, tiny_bert_ref
):
    project, rule, annotators = loop_project(
        tmp_path, settings, tiny_bert_ref,
        policy_config={"max_steps": 120, "save_steps": 5, "batch_size": 2,
                       "eval_max_prompts": 2, "eval_max_new_tokens": 4},
    )  # fmt: skip
    worker, log_path = start_worker_with_beat(tmp_path, settings, "first")
    try:
        assert label_over_http(project, annotators) == THRESHOLD
        # The chain's policy step is past a checkpoint: the worker dies (SIGKILL, no goodbye).
        policy = wait_for(
            lambda: TrainingRun.objects.filter(project=project, family="policy", step__gte=10).first(),
            timeout=900, what="the chained policy run to pass a checkpoint", log=log_path.read_text,
        )  # fmt: skip
        kill(worker)
    finally:
        stop(worker)
    step_at_kill = policy.step
    second, second_log = start_worker_with_beat(tmp_path, settings, "second")
    try:
        wait_for(lambda: round_tasks(project), timeout=900, what="the chain to go on",
                 log=second_log.read_text)  # fmt: skip
    finally:
        stop(second)
    policy.refresh_from_db()
    assert policy.status == "succeeded" and policy.attempts == 2
    resumed = policy.log_lines.filter(line__startswith="Resuming").first()
    assert resumed is not None and step_at_kill >= 10
    # Resumed, not restarted: one firing, one reward model, one policy, one round.
    assert RuleFiring.objects.filter(rule=rule).count() == 1
    assert TrainingRun.objects.filter(project=project, family="reward").count() == 1
    assert TrainingRun.objects.filter(project=project, family="policy").count() == 1
    assert [d.decision for d in ModelDecision.objects.order_by("id")] == ["promoted", "promoted"]
    assert Round.objects.filter(project=project).count() == 1 and round_tasks(project) == 4
