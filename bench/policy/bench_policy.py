"""Benchmark: does the loop make a policy better? Labels in, policies out, judged by a hidden truth.

    python bench/policy/bench_policy.py [--task format|arithmetic] [--labels 250,500,1000]
        [--noise 0.15] [--overlap 3] [--objectives dpo,kto,raft,grpo,rloo]
        [--db arbiter_bench_policy] [--json out.json] [--chart docs/bench-policy.svg] [--keep-db]

What it does, start to end:
1. Pretrains a tiny GPT-2 (about 0.1 M parameters, word-level tokenizer built here; nothing is
   downloaded) from scratch on the task family's corpus, which is right only half the time: the
   base model is mediocre by construction. `--task format` (default, formats.py): `write 17 in
   brackets` -> `[ 17 ]`, the corpus uses the requested wrapping half the time and the other one
   otherwise. `--task arithmetic` (arithmetic.py): `what is 13 + 4 ?` -> `the answer is 17 .`,
   half the corpus carries a systematic off-by-one. 20 of the 100 problems are held out: the app
   never sees them.
2. Creates a fresh PostgreSQL database, migrates it, starts real Celery workers (one on the
   default queue, one on the training queue, kombu's filesystem broker) and seeds one pairwise
   project (each task judged by `--overlap` annotators) with an admin and `--annotators`
   label-scope API tokens.
3. Samples the base model on the 80 other problems (temperature 1, fixed seed) and imports each
   prompt with two different samples as `--tasks-per-prompt` pairwise tasks, through the import API.
4. Simulated annotators label over the HTTP API (next task, then submit; Django's test client
   drives the full URL, middleware, authentication and view stack): the right response wins, two
   wrong ones are both bad, and `--noise` of their verdicts are wrong.
5. At each label count of `--labels`, the admin launches through the runs API: a pairwise reward
   model (initialised from the base model), then DPO on the same labels and RAFT, GRPO and RLOO on
   that reward model; KTO trains on the same labels unpaired (the pairs export, chosen → good,
   rejected → bad, imported into a thumbs project through the dataset-import API, as a user
   would). The training worker runs them.
6. Each policy, and the base, samples the 20 held-out prompts (16 samples each, temperature 1,
   fixed seed); the hidden checker scores them. Also printed: greedy success, KL to the base
   (nats per completion) and mean completion length.

Nothing that trains sees the hidden truth; only the annotators' verdicts reach the app.
Last line: labels=<n> base_success=<x> best_objective=<name> best_success=<x> dpo_success=<x>
grpo_success=<x> rloo_success=<x> (at the largest label count). Goal: some objective raises
success by >= 0.25 over the base with <= 1000 labels.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.loop.bench_loop import pg_admin  # noqa: E402
from bench.policy import arithmetic, formats  # noqa: E402

TASKS = {"format": formats, "arithmetic": arithmetic}

OBJECTIVES = ("dpo", "kto", "raft", "grpo", "rloo")
HELD_OUT = 20
SPLIT_SEED = 0
CPU = {"device": "cpu", "num_threads": 1, "save_steps": 0, "seed": 0, "max_length": 32}
# Hyperparameters, tuned by hand on the annotators' labels only (a few runs of this bench); the
# hidden truth never reaches training.
REWARD_CONFIG = {
    **CPU,
    "input_template": "joined",
    "pooling": "last",
    "learning_rate": 3e-3,
    "num_epochs": 15,
    "batch_size": 32,
}
POLICY_EVAL = {"eval_max_prompts": 32, "eval_max_new_tokens": 8}
POLICY_CONFIGS = {
    "dpo": {"learning_rate": 2e-4, "beta": 0.1, "num_epochs": 2, "batch_size": 16},
    "kto": {"learning_rate": 2e-4, "beta": 0.1, "num_epochs": 2, "batch_size": 16},
    "raft": {
        "learning_rate": 1e-3,
        "num_epochs": 2,
        "batch_size": 16,
        "num_samples": 4,
        "max_new_tokens": 8,
    },
    "grpo": {
        "learning_rate": 1e-4,
        "beta": 0.1,
        "batch_size": 16,
        "num_generations": 4,
        "max_new_tokens": 8,
        "num_epochs": 1,
    },
    "rloo": {
        "learning_rate": 1e-4,
        "beta": 0.1,
        "batch_size": 16,
        "num_generations": 4,
        "max_new_tokens": 8,
        "num_epochs": 1,
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def base_pairs(base_dir: Path, problems: list, *, seed: int) -> list[dict]:
    """For each problem, the first two different texts among 8 base samples: one import row each
    (a problem whose samples all agree gives none)."""
    from bench.policy.measure import load_policy
    from trainer.device import choose_device
    from trainer.policy.evaluate import sample_completions

    model, tokenizer = load_policy(base_dir)
    prompts = [problem.prompt for problem in problems]
    draws = sample_completions(
        model,
        tokenizer,
        prompts,
        max_new_tokens=8,
        batch_size=256,
        seed=seed,
        device=choose_device("cpu", num_threads=None, gradient_checkpointing=False),
        max_prompt_tokens=24,
        num_samples=8,
    )
    rows = []
    for index, prompt in enumerate(prompts):
        texts = list(dict.fromkeys(d.texts[index].strip() for d in draws if d.texts[index].strip()))
        if len(texts) >= 2:
            rows.append({"prompt": prompt, "responses": texts[:2]})
    return rows


def canonical_choice(shown: list[dict], choice: str) -> str:
    """The verdict the API expects for `choice` made on the screen: the lease lists the responses in
    their (shuffled) screen order, and a pairwise choice names the canonical letter the picked one
    carries, not its place on the screen. "both_bad" (and anything not a side) passes through."""
    if choice in ("A", "B"):
        return shown["AB".index(choice)]["letter"]
    return choice


class App:
    """The admin's and the annotators' side of the app, over HTTP (Django's test client)."""

    def __init__(self, *, admin_token: str, annotator_tokens: list[str], task=formats):
        self.task = task
        from django.test import Client

        self.admin = Client(HTTP_AUTHORIZATION=f"Token {admin_token}")
        self.annotators = [Client(HTTP_AUTHORIZATION=f"Token {t}") for t in annotator_tokens]

    def _ok(self, response, *codes: int) -> dict:
        if response.status_code not in codes:
            raise SystemExit(
                f"{response.request['PATH_INFO']}: {response.status_code} {response.content[:500]!r}"
            )
        return response.json() if response.content else {}

    def upload(self, url: str, rows: list[dict], name: str) -> dict:
        from django.core.files.uploadedfile import SimpleUploadedFile

        body = "".join(json.dumps(row) + "\n" for row in rows).encode()
        upload = SimpleUploadedFile(name, body, content_type="application/jsonl")
        return self._ok(self.admin.post(url, {"file": upload}), 201, 202)

    def wait(self, url: str, *, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self._ok(self.admin.get(url), 200)
            if job["status"] == "succeeded":
                return job
            if job["status"] in ("failed", "cancelled"):
                raise SystemExit(f"{what} {job['status']}: {job.get('error')}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{what}: not finished after {timeout:.0f} s ({job['status']})")
            time.sleep(0.5)

    def label(
        self, project_id: int, *, until: int, done: int, rng: random.Random, noise: float
    ) -> int:
        """Annotators take turns until `until` labels are in or the queue is empty; returns the count."""
        active = list(self.annotators)
        while active and done < until:
            for client in list(active):
                if done >= until:
                    break
                lease = client.post(f"/api/projects/{project_id}/tasks/next/")
                if lease.status_code == 204:
                    active.remove(client)
                    continue
                shown = self._ok(lease, 200)
                prompt = shown["messages"][-1]["content"]
                choice = canonical_choice(
                    shown["responses"],
                    self.task.simulated_verdict(
                        prompt, [r["text"] for r in shown["responses"]], rng=rng, noise=noise
                    ),
                )
                payload = {"choice": choice}
                if choice in ("A", "B"):
                    payload["strength"] = "clearly"
                self._ok(
                    client.post(
                        f"/api/assignments/{shown['assignment']}/judgment/",
                        {"payload": payload},
                        content_type="application/json",
                    ),
                    200,
                    201,
                )
                done += 1
        return done

    def launch(self, project_id: int, objective: str, config: dict, reward_run: int | None) -> dict:
        body = {"objective": objective, "config": config, "eval_share": 0.2}
        if reward_run:
            body["reward_run"] = reward_run
        return self._ok(
            self.admin.post(
                f"/api/projects/{project_id}/runs/", body, content_type="application/json"
            ),
            201,
        )

    def unpaired_from_pairs(self, project_id: int) -> list[dict]:
        """The project's pairs as TRL's unpaired rows: chosen → good, rejected → bad."""
        response = self.admin.get(f"/api/projects/{project_id}/exports/pairs.jsonl")
        if response.status_code != 200:
            raise SystemExit(f"pairs export: {response.status_code}")
        body = b"".join(response.streaming_content).decode()
        rows = []
        for line in body.split("\n"):
            if line.strip():
                pair = json.loads(line)
                rows.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
                rows.append(
                    {"prompt": pair["prompt"], "completion": pair["rejected"], "label": False}
                )
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", default="250,500,1000", help="label counts to train at")
    parser.add_argument(
        "--task", choices=sorted(TASKS), default="format", help="task family (hidden truth)"
    )
    parser.add_argument("--noise", type=float, default=0.15)
    parser.add_argument("--overlap", type=int, default=3, help="annotators per pair")
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--samples", type=int, default=16, help="held-out samples per prompt")
    parser.add_argument("--tasks-per-prompt", type=int, default=4)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--db", default="arbiter_bench_policy")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait per run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--chart", type=Path, help="draw the SVG chart here")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    checkpoints = sorted(int(n) for n in args.labels.split(","))
    from trainer.registry import objectives as registered

    wanted = [o.strip() for o in args.objectives.split(",") if o.strip()]
    missing = [o for o in wanted if o not in registered]
    if missing:
        log(f"objectives not in this trainer, skipped: {', '.join(missing)}")
    wanted = [o for o in wanted if o in registered]

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="arbiter-policy-"))
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
            "ARBITER_STORAGE_ROOT": str(work / "storage"),
            "ARBITER_MODEL_ROOTS": str(work / "models"),
            "ARBITER_MODEL_HUB_CACHE": "off",
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_DIR": str(work / "broker"),
            "HF_HUB_OFFLINE": "1",
            "DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # Two cores shared: one thread per process (two threads contending for a loaded core
            # made a step 20x slower here).
            "OMP_NUM_THREADS": "1",
        }
    )
    os.environ.setdefault("SECRET_KEY", "arbiter-bench-only-secret-key")
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    import torch

    torch.set_num_threads(1)
    from bench.policy.base_model import pretrain
    from bench.policy.measure import measure

    base_dir = work / "models" / "tiny-lm"
    base_dir.mkdir(parents=True)
    task = TASKS[args.task]
    app_problems, held_out = task.split_problems(held_out=HELD_OUT, seed=SPLIT_SEED)
    info = pretrain(base_dir, task=task, epochs=args.pretrain_epochs, copies=64, log=log)
    log(
        f"base model: {info['parameters'] / 1e6:.2f} M parameters, {info['steps']:.0f} steps on "
        f"{info['sequences']:.0f} sequences in {info['seconds']:.0f} s"
    )
    base = measure(base_dir, base_dir, held_out, task=task, samples=args.samples)
    log(f"base: {base.as_dict()}")
    rows = base_pairs(base_dir, app_problems, seed=7)
    log(f"{len(rows)} of {len(app_problems)} problems gave two different base samples")
    rows = rows * args.tasks_per_prompt

    pg_admin(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{args.db}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from apps.accounts.services import api_token_create
    from apps.projects.models import FeedbackKind, Membership, Project, Role
    from apps.training.models import TrainingRun
    from apps.training.services import run_model_dir

    User = get_user_model()
    admin = User.objects.create_user("policy-admin", is_staff=True)
    project = Project.objects.create(
        name=f"Policy bench ({args.task})",
        kind=FeedbackKind.PAIRWISE,
        overlap=args.overlap,
        created_by=admin,
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    tokens = []
    for i in range(args.annotators):
        user = User.objects.create_user(f"policy-annotator-{i}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        tokens.append(api_token_create(user=user, name="bench", scope="label", days=7)[1])
    admin_token = api_token_create(user=admin, name="bench", scope="admin", days=7)[1]
    app = App(admin_token=admin_token, annotator_tokens=tokens, task=task)

    worker_log = (work / "worker.log").open("w")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool=solo",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING",
             "-n", f"bench-policy-{queue}@%h"],
            cwd=ROOT, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        for queue in ("default", "training")
    ]  # fmt: skip
    results: dict = {
        "task": args.task,
        "base": base.as_dict(),
        "base_success": base.success,
        "points": [],
    }
    try:
        job = app.upload(f"/api/projects/{project.pk}/imports/", rows, "base-samples.jsonl")
        job = app.wait(f"/api/imports/{job['id']}/", timeout=300, what="prompt import")
        log(f"imported {job['tasks_created']} pairwise tasks")
        rng, labels = random.Random(0), 0
        print(
            "labels  objective  success  greedy  kl_to_base  mean_len  train_s  (base "
            f"success {base.success:.3f} greedy {base.greedy_success:.3f})",
            flush=True,
        )
        for checkpoint in checkpoints:
            labels = app.label(project.pk, until=checkpoint, done=labels, rng=rng, noise=args.noise)
            log(f"{labels} labels in")
            reward = app.launch(
                project.pk,
                "reward_pairwise",
                {**REWARD_CONFIG, "model": "base:models/tiny-lm"},
                None,
            )
            reward = app.wait(f"/api/runs/{reward['id']}/", timeout=args.timeout, what="reward run")
            log(f"reward model run {reward['id']}: held-out pairwise accuracy "
                f"{reward['metrics'].get('pairwise_accuracy')}")  # fmt: skip
            launched = {}
            for objective in wanted:
                config = {**CPU, **POLICY_EVAL, **POLICY_CONFIGS[objective],
                          "model": "base:models/tiny-lm"}  # fmt: skip
                if objective == "kto":
                    thumbs = Project.objects.create(
                        name=f"Policy bench unpaired at {labels}", kind=FeedbackKind.THUMBS,
                        created_by=admin,
                    )  # fmt: skip
                    Membership.objects.create(project=thumbs, user=admin, role=Role.ADMIN)
                    unpaired = app.unpaired_from_pairs(project.pk)
                    job = app.upload(
                        f"/api/projects/{thumbs.pk}/dataset-imports/", unpaired, "unpaired.jsonl"
                    )
                    app.wait(f"/api/dataset-imports/{job['id']}/", timeout=300, what="KTO import")
                    launched[objective] = app.launch(thumbs.pk, objective, config, None)
                else:
                    launched[objective] = app.launch(project.pk, objective, config, reward["id"])
            for objective, run in launched.items():
                run = app.wait(f"/api/runs/{run['id']}/", timeout=args.timeout, what=objective)
                model = TrainingRun.objects.get(pk=run["id"])
                figures = measure(
                    run_model_dir(model), base_dir, held_out, task=task, samples=args.samples
                )
                train_s = run["metrics"].get("train_runtime_seconds", float("nan"))
                results["points"].append(
                    {"labels": labels, "objective": objective, "run": run["id"],
                     **figures.as_dict(), "train_s": train_s,
                     "reward_accuracy": reward["metrics"].get("pairwise_accuracy")}
                )  # fmt: skip
                print(
                    f"{labels:>6}  {objective:<9}  {figures.success:>7.3f}  "
                    f"{figures.greedy_success:>6.3f}  {figures.kl_to_base:>10.3f}  "
                    f"{figures.mean_length:>8.2f}  {train_s:>7.1f}",
                    flush=True,
                )
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
            pg_admin(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')

    last = [p for p in results["points"] if p["labels"] == labels]
    best = max(last, key=lambda p: p["success"]) if last else None
    by_name = {p["objective"]: p["success"] for p in last}
    results.update(
        labels=labels,
        minutes=(time.monotonic() - started) / 60,
        note=f"task {args.task}; {labels} labels max, {args.noise:.0%} annotator noise, overlap {args.overlap}; "
        f"{HELD_OUT} held-out prompts x {args.samples} samples",
    )
    gain = best["success"] - base.success if best else float("nan")
    log(f"whole bench: {results['minutes']:.1f} min; best gain over base {gain:+.3f} "
        f"(goal +0.25: {'met' if gain >= 0.25 else 'NOT met'})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.chart:
        from bench.policy.chart import render_svg

        args.chart.write_text(render_svg(results), encoding="utf-8")

    def fmt(name: str) -> str:
        return f"{by_name[name]:.3f}" if name in by_name else "nan"

    print(
        f"labels={labels} base_success={base.success:.3f} "
        f"best_objective={best['objective'] if best else 'none'} "
        f"best_success={best['success'] if best else float('nan'):.3f} "
        f"dpo_success={fmt('dpo')} grpo_success={fmt('grpo')} rloo_success={fmt('rloo')}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
