"""Benchmark: the autopilot loop end to end, against a hidden true reward.

    python bench/loop/bench_loop.py [--rounds 4] [--every 60] [--annotators 4] [--noise 0.1]
        [--gold 50] [--epochs 4] [--timeout 600] [--broker URL] [--keep-db]

What it does, start to end:
1. Creates a fresh PostgreSQL database `arbiter_bench_loop` (127.0.0.1:5432), migrates it, and
   builds a tiny BERT reward backbone (2 layers, word-level vocabulary; nothing is downloaded)
   under a model root of its own.
2. Seeds one pairwise project and `--annotators` annotators with label-scope API tokens, and one
   training rule: reward_pairwise every `--every` new labels. Real Celery workers do the rest, as
   docker-compose.yml runs them: one on the default queue with the beat inside (`-B`, rules
   checked every second), one on the training queue, on kombu's filesystem broker in a temporary
   folder (or --broker, e.g. redis://127.0.0.1:6379/1; kombu's filesystem transport can read a
   message file before it is written, and the worker then stops with a JSONDecodeError): the
   rule fires, the run trains, the gate promotes or rejects. The broker is --broker, else
   CELERY_BROKER_URL from the environment when it is a Redis URL, else the filesystem one.
   Before the workers start, the admin imports `--gold` pairwise gold tasks the way a team
   would: a JSONL file through the import service, each row with a `gold` answer. Those are
   the admin's known answers; in the simulation the hidden true reward below decides them.
   The annotators answer the gold tasks first (they are served like any task and not told
   which are gold). Gold tasks and their judgments are never exported, so never trained on,
   and do not count toward the rule; the reward gate scores champion and challenger on them
   next to the frozen held-out pairs.
3. Each round adds `--every` fresh tasks: two responses made of a topic, neutral filler and a few
   "good" and "bad" words. The hidden true reward of a response is (# good words − # bad words).
   The simulated annotators label them over the HTTP API (next task, then submit, through
   Django's test client: the full URL, middleware, authentication and view stack), choosing the
   response with the higher true reward, with `--noise` of their answers flipped.
4. Per round it prints: labels so far; the challenger's accuracy against the hidden truth (on 400
   fresh pairs never labeled); promoted or rejected; seconds from the N-th label's submit to the
   decision (a promotion is the new champion serving); and of those, the seconds outside
   training itself (the run's start to finish on the worker is training; the rest is the beat's
   wait, the snapshot, queueing, loading and the gate's scoring); and the gate's 95 % paired-
   bootstrap interval of the challenger's accuracy gain over the champion, on the held-out items
   it measured (the gate promotes only when its lower end is above 0).

Last line: rounds=<k> promoted=<n> rejected=<n> final_rm_accuracy=<x> label_to_champion_s=<median>
overhead_s=<median> (medians over promoted rounds). Goals: overhead <= 5 s; the hidden-truth
accuracy of the champion never falls from one promoted round to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DB_NAME = "arbiter_bench_loop"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"


def pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", host="127.0.0.1", port=5432, user="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def response_text(rng: random.Random, vocab) -> tuple[str, int]:
    good, bad = rng.randint(0, 3), rng.randint(0, 3)
    words = (
        [rng.choice(vocab.TOPICS)]
        + rng.sample(vocab.NEUTRAL, 3)
        + [rng.choice(vocab.GOOD) for _ in range(good)]
        + [rng.choice(vocab.BAD) for _ in range(bad)]
    )
    rng.shuffle(words)
    return " ".join(words), good - bad


def true_pair(rng: random.Random, vocab) -> tuple[str, str, str]:
    """(prompt, better, worse) by the hidden reward; never a tie."""
    while True:
        (a, ra), (b, rb) = response_text(rng, vocab), response_text(rng, vocab)
        if ra != rb:
            prompt = f"{rng.choice(vocab.TOPICS)} {rng.choice(vocab.NEUTRAL)}"
            return (prompt, a, b) if ra > rb else (prompt, b, a)


def hidden_reward(text: str, vocab) -> int:
    words = text.split()
    return sum(w in vocab.GOOD for w in words) - sum(w in vocab.BAD for w in words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--every", type=int, default=60)
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument(
        "--gold", type=int, default=50, help="pairwise gold tasks the admin imports first"
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per round")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--broker",
        default=None,
        help="Celery broker URL (a Redis URL: its database must be empty of other messages); "
        "default: CELERY_BROKER_URL if it is a Redis URL, else filesystem://",
    )
    args = parser.parse_args(argv)
    if args.broker is None:
        from_env = os.environ.get("CELERY_BROKER_URL", "")
        args.broker = (
            from_env if from_env.startswith(("redis://", "rediss://")) else "filesystem://"
        )

    work = Path(tempfile.mkdtemp(prefix="arbiter-loop-"))
    env = {
        "DATABASE_URL": DATABASE_URL,
        "ARBITER_STORAGE_ROOT": str(work / "storage"),
        "ARBITER_MODEL_ROOTS": str(work / "models"),
        "ARBITER_MODEL_HUB_CACHE": "off",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_BROKER_DIR": str(work / "broker"),
        "ARBITER_AUTOPILOT_CHECK_SECONDS": "1",
        "HF_HUB_OFFLINE": "1",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    os.environ.setdefault("SECRET_KEY", "arbiter-bench-only-secret-key")
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    (work / "models").mkdir(parents=True)
    pg_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True
    )

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.utils import timezone

    from apps.accounts.services import api_token_create
    from apps.autopilot.models import ModelDecision, RuleFiring
    from apps.autopilot.services import training_rule_create
    from apps.corpus.models import Prompt, Response
    from apps.feedback.models import Judgment
    from apps.imports.models import ImportJob
    from apps.imports.services import import_job_create, import_job_run
    from apps.labeling.models import Task, TaskItem
    from apps.projects.models import FeedbackKind, Membership, Project, Role
    from apps.training.models import TrainingRun
    from apps.training.services import run_model_dir
    from tests.trainer import tiny as vocab
    from trainer.scoring import load_reward_model

    vocab.build_tiny_bert(work / "models" / "tiny-bert")
    User = get_user_model()
    admin = User.objects.create_user("loop-admin", is_staff=True)
    project = Project.objects.create(
        name="Loop", kind=FeedbackKind.PAIRWISE, overlap=1, created_by=admin
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    clients = []
    for i in range(args.annotators):
        user = User.objects.create_user(f"loop-annotator-{i}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        token = api_token_create(user=user, name="bench", scope="label", days=7)[1]
        clients.append(Client(HTTP_AUTHORIZATION=f"Token {token}"))
    rule = training_rule_create(
        project=project, user=admin, name=f"every {args.every}", objective="reward_pairwise",
        config={"model": "base:models/tiny-bert", "num_epochs": args.epochs, "batch_size": 8,
                "learning_rate": 2e-3, "seed": 0},
        every_labels=args.every,
    )  # fmt: skip
    rng = random.Random(0)
    hidden = [true_pair(random.Random(10_000 + i), vocab) for i in range(400)]

    # The admin's gold tasks: a JSONL import whose rows carry the known answer (A or B, the
    # responses in row order). Here the hidden true reward decides it.
    gold_rows = []
    for i in range(args.gold):
        prompt_text, better, worse = true_pair(random.Random(20_000 + i), vocab)
        first_better = random.Random(30_000 + i).random() < 0.5
        texts = [better, worse] if first_better else [worse, better]
        gold_rows.append(
            json.dumps(
                {
                    "prompt": prompt_text,
                    "responses": texts,
                    "gold": {"choice": "A" if first_better else "B", "strength": "clearly"},
                }
            )
        )
    if gold_rows:
        upload = SimpleUploadedFile(
            "gold.jsonl", ("\n".join(gold_rows) + "\n").encode(), "application/jsonl"
        )
        job = import_job_create(project=project, user=admin, upload=upload)
        # The worker is not up yet: run the import here. The queued message finds it done.
        import_job_run(job_id=job.pk)
        job = ImportJob.objects.get(pk=job.pk)
        if job.status != "succeeded":
            raise SystemExit(f"gold import {job.status}: {job.error}")
    gold_tasks = Task.objects.filter(project=project, is_gold=True).count()

    # As in docker-compose.yml: light work and the beat on one worker, training on another.
    log = (work / "worker.log").open("w")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *extra, "--pool=solo",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING",
             "-n", f"bench-loop-{name}@%h"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        for name, extra in (("default", ["-B", "-Q", "default"]), ("training", ["-Q", "training"]))
    ]  # fmt: skip

    def accuracy(run) -> float:
        scorer = load_reward_model(run_model_dir(run))
        prompts = [p for p, _, _ in hidden]
        better = scorer.score(prompts, [b for _, b, _ in hidden])
        worse = scorer.score(prompts, [w for _, _, w in hidden])
        return sum(
            1.0 if b > w else 0.5 if b == w else 0.0 for b, w in zip(better, worse, strict=True)
        ) / len(hidden)

    def label_all() -> None:
        """The annotators take tasks until none is left, over the HTTP API."""
        active = list(clients)
        while active:
            for client in list(active):
                lease = client.post(f"/api/projects/{project.pk}/tasks/next/")
                if lease.status_code == 204:
                    active.remove(client)
                    continue
                shown = lease.json()["responses"]
                best = max(shown, key=lambda r: hidden_reward(r["text"], vocab))
                worst = min(shown, key=lambda r: hidden_reward(r["text"], vocab))
                choice = (worst if rng.random() < args.noise else best)["letter"]
                answer = client.post(
                    f"/api/assignments/{lease.json()['assignment']}/judgment/",
                    {"payload": {"choice": choice, "strength": "clearly"}},
                    content_type="application/json",
                )
                assert answer.status_code in (200, 201), answer.content

    def regular_labels() -> int:
        return Judgment.objects.filter(project=project, task__is_gold=False).count()

    # The annotators answer the gold tasks before the first round's tasks exist, so that no
    # round's timing includes them.
    label_all()
    gold_answered = Judgment.objects.filter(project=project, task__is_gold=True).count()
    print(
        f"gold tasks: {gold_tasks} imported with the admin's answers, {gold_answered} answered "
        f"by the annotators; broker: {args.broker.split('://')[0]}",
        flush=True,
    )
    rows, labels = [], 0
    print(
        "round  labels  rm_accuracy  decision   label_to_decision_s  outside_training_s  "
        "gate_gain_ci95",
        flush=True,
    )
    try:
        for number in range(1, args.rounds + 1):
            for _ in range(args.every):
                prompt_text, better, worse = true_pair(rng, vocab)
                prompt = Prompt.objects.create(
                    project=project, messages=[{"role": "user", "content": prompt_text}]
                )
                task = Task.objects.create(project=project, prompt=prompt, kind=project.kind)
                texts = [better, worse] if rng.random() < 0.5 else [worse, better]
                for position, text in enumerate(texts):
                    response = Response.objects.create(prompt=prompt, text=text, source="bench")
                    TaskItem.objects.create(task=task, response=response, position=position)
            label_all()
            labels = regular_labels()
            nth_at = timezone.now()
            deadline = time.monotonic() + args.timeout
            decision = None
            while decision is None:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise SystemExit(
                        f"round {number}: no decision in {args.timeout:.0f} s; see {log.name}"
                    )
                firing = RuleFiring.objects.filter(rule=rule, number=number).first()
                if firing and firing.run_id:
                    decision = ModelDecision.objects.filter(
                        run_id=firing.run_id, by_gate=True
                    ).first()
                    run = TrainingRun.objects.get(pk=firing.run_id)
                    if run.status in ("failed", "cancelled"):
                        raise SystemExit(f"round {number}: run {run.pk} {run.status}: {run.error}")
                time.sleep(0.2)
            run = TrainingRun.objects.get(pk=decision.run_id)
            total = (decision.created_at - nth_at).total_seconds()
            training = (run.finished_at - run.started_at).total_seconds()
            acc = accuracy(run)
            rows.append((number, labels, acc, decision.decision, total, total - training))
            # The gate's paired-bootstrap interval of the gain over the champion, on its own
            # held-out items (none for the first model).
            ci = (decision.metrics or {}).get("gain_ci95")
            gate = (
                f"[{ci[0]:+.3f}, {ci[1]:+.3f}] on {decision.metrics['eval_pairs']}" if ci else "-"
            )
            print(f"{number:>5}  {labels:>6}  {acc:>11.3f}  {decision.decision:<9}  {total:>19.2f}  "
                  f"{total - training:>18.2f}  {gate}", flush=True)  # fmt: skip
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            pg_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    promoted = [r for r in rows if r[3] == "promoted"]
    promoted_accuracy = [r[2] for r in promoted]
    never_falls = all(b >= a for a, b in itertools.pairwise(promoted_accuracy))
    overhead = statistics.median(r[5] for r in promoted) if promoted else float("nan")
    print(f"goal overhead <= 5 s: {'met' if overhead <= 5 else 'NOT met'}; accuracy never falls "
          f"between promoted rounds: {'met' if never_falls else 'NOT met'}")  # fmt: skip
    print(
        f"rounds={len(rows)} promoted={len(promoted)} rejected={len(rows) - len(promoted)} "
        f"final_rm_accuracy={promoted_accuracy[-1] if promoted else float('nan'):.3f} "
        f"label_to_champion_s={statistics.median(r[4] for r in promoted) if promoted else float('nan'):.2f} "
        f"overhead_s={overhead:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
