"""The loop with no person after setup: simulated annotators label over the HTTP API, a real
worker with its beat fires the rule, trains and promotes a reward model, trains and promotes a
policy judged by it, and starts the next round, whose generated tasks appear."""

import random
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from apps.autopilot.chains import autopilot_configure
from apps.autopilot.models import ModelDecision, RuleFiring
from apps.autopilot.services import training_rule_create
from apps.corpus.models import Prompt
from apps.generation.models import Round
from apps.labeling.models import Task
from apps.projects.models import Membership, Role
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


def test_labels_over_http_drive_the_loop_to_the_next_rounds_tasks(
    transactional_db, tmp_path, settings, tiny_bert_ref
):
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
    # Setup, by the admin: one rule and the chain's two stages.
    rule = training_rule_create(
        project=project, user=admin, name="every 24", objective="reward_pairwise",
        config={"model": tiny_bert_ref, **REWARD_CONFIG}, every_labels=THRESHOLD,
    )  # fmt: skip
    autopilot_configure(
        project=project, train_policy=True, base_model=policy_base, policy_objective="dpo",
        policy_config={"max_steps": 2, "batch_size": 2, "eval_max_prompts": 2,
                       "eval_max_new_tokens": 4},
        start_round=True, round_prompts=4, round_config={"max_tokens": 6, "n_per_prompt": 2},
    )  # fmt: skip

    log_path = tmp_path / "worker.log"
    env = subprocess_env(
        ARBITER_STORAGE_ROOT=settings.MEDIA_ROOT,
        ARBITER_AUTOPILOT_CHECK_SECONDS="2",
        # Tiny random policies trained two steps: the orchestration is under test here, the
        # gate's threshold is tested on its own (test_champions).
        ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE="0",
    )
    with log_path.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-Q", "default,training",
             "--pool=solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
             "-l", "INFO", "-n", f"loop-{time.monotonic_ns()}@%h",
             "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            annotators = [UserFactory() for _ in range(3)]
            for user in annotators:
                Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
            assert label_over_http(project, annotators) == THRESHOLD
            read_log = log_path.read_text
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
            next_round = wait_for(
                lambda: Round.objects.filter(project=project).first(),
                timeout=60, what="the next round", log=read_log,
            )  # fmt: skip
            assert next_round.generating_run_id == policy.pk
            new_tasks = wait_for(
                lambda: Task.objects.filter(
                    project=project, context__generation_job=next_round.generation_job_id
                ).count(),
                timeout=300, what="the next round's tasks", log=read_log,
            )  # fmt: skip
            assert new_tasks == 4
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
