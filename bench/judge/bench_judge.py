"""make bench-judge: a local judge labels 1,000 pairwise tasks, batched against one at a time.

Builds a small GPT-2-shaped model (the byte-level tokenizer of tests/trainer/tiny.py, random
weights) in a temporary folder, seeds BENCH_TASKS pairwise tasks in a throwaway SQLite database,
and runs the same judge job twice through the real service (both orders of every task, the
labels written per batch): once with BENCH_BATCH tasks per batch, once with one. The judge reads
the model's next-token odds of "A" against "B" (apps/judges/backends.py, LetterOddsJudge). Same
model, same template, same thread count for both. The position bias is the batched run's share
of decisive verdicts won by the response shown first (0.5 is unbiased); a random-weight model
has no idea which answer is better, so its bias is whatever its letter odds happen to be.

Environment: BENCH_TASKS (1000), BENCH_BATCH (32), BENCH_THREADS (torch's default),
BENCH_LAYERS (2), BENCH_WIDTH (64). On a machine whose cores are busy, give BENCH_THREADS=1
(see bench/generation/bench_generation.py for why).

Last line: judged=<tasks> batched_per_s=<n> sequential_per_s=<n> position_bias=<x>
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASKS = int(os.environ.get("BENCH_TASKS", "1000"))
BATCH = int(os.environ.get("BENCH_BATCH", "32"))
LAYERS = int(os.environ.get("BENCH_LAYERS", "2"))
WIDTH = int(os.environ.get("BENCH_WIDTH", "64"))
TOPICS = ["bread", "bikes", "music", "plants", "money", "dogs", "exams", "coffee"]
TEMPLATE = (
    "Question: {{ prompt }}\n[A] {{ response_a }}\n[B] {{ response_b }}\n"
    "Which answer is better, A or B? Verdict: "
)


def build_model(directory: Path) -> tuple[Path, int]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from tests.trainer.tiny import build_tiny_gpt2

    build_tiny_gpt2(directory)  # its tokenizer, saved next to the model we replace
    tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=WIDTH,
        n_layer=LAYERS,
        n_head=max(1, WIDTH // 64),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    return directory, sum(p.numel() for p in model.parameters())


def setup_django(folder: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    # The job runs in this process when its transaction commits: no broker, no worker.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["ARBITER_MODEL_ROOTS"] = str(folder / "models")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed():
    import random

    from apps.accounts.models import User
    from apps.corpus.models import Prompt, Response
    from apps.labeling.models import Task, TaskItem
    from apps.projects.models import FeedbackKind, Membership, Project, Role

    rng = random.Random(0)
    admin = User.objects.create_user("bench-admin", password="bench-pass", is_staff=True)
    project = Project.objects.create(name="judge", kind=FeedbackKind.PAIRWISE, created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                messages=[{"role": "user", "content": f"What about {TOPICS[i % 8]} ({i})?"}],
            )
            for i in range(TASKS)
        ]
    )
    responses = Response.objects.bulk_create(
        [
            Response(
                prompt=prompt,
                text=" ".join(rng.choice(TOPICS) for _ in range(rng.randint(4, 16))),
                source=side,
            )
            for prompt in prompts
            for side in ("a", "b")
        ]
    )
    tasks = Task.objects.bulk_create(
        [Task(project=project, prompt=prompt, kind=FeedbackKind.PAIRWISE) for prompt in prompts]
    )
    TaskItem.objects.bulk_create(
        [
            TaskItem(task=task, response=responses[2 * i + side], position=side)
            for i, task in enumerate(tasks)
            for side in (0, 1)
        ]
    )
    return admin, project


def run_job(*, project, user, reference: str, name: str, batch_size: int):
    from apps.judges.models import JudgeJob
    from apps.judges.services import judge_create, judge_job_create

    judge = judge_create(
        project=project,
        user=user,
        name=name,
        backend="local",
        config={"model": reference, "device": "cpu"},
        templates={"pairwise": TEMPLATE},
        batch_size=batch_size,
    )
    started = time.perf_counter()
    job = judge_job_create(judge=judge, user=user)  # runs eagerly, on commit
    elapsed = time.perf_counter() - started
    job = JudgeJob.objects.get(pk=job.pk)
    if job.status != "succeeded":
        sys.exit(f"The {name} job did not succeed: {job.status} {job.error}")
    return judge, job, elapsed


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    threads = int(os.environ.get("BENCH_THREADS", torch.get_num_threads()))
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        folder = Path(tmp)
        model_dir, parameters = build_model(folder / "models" / "gpt2")
        reference = f"base:models/{model_dir.name}"
        setup_django(folder)
        from apps.generation.backends import _load
        from apps.judges.selectors import judge_position_bias

        admin, project = seed()
        _load(str(model_dir), "cpu")  # loaded once before timing, as on a worker that judged before
        print(
            f"GPT-2 {LAYERS} layers x {WIDTH} wide ({parameters / 1e6:.1f} M parameters, random "
            f"weights), {TASKS} pairwise tasks, each judged in both orders from the model's "
            f"next-token odds of A and B, {threads} CPU thread{'s' * (threads > 1)}; the whole job "
            f"path (labels written per batch). Load average before: {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores."
        )
        judge, batched, batched_s = run_job(
            project=project, user=admin, reference=reference, name="batched", batch_size=BATCH
        )
        print(
            f"  batched ({BATCH} tasks = {2 * BATCH} prompts per batch): {batched.done} tasks, "
            f"{batched.labels_written} labels in {batched_s:.1f} s"
        )
        _, sequential, sequential_s = run_job(
            project=project, user=admin, reference=reference, name="sequential", batch_size=1
        )
        print(
            f"  one task at a time (its 2 orders in one pass): {sequential.done} tasks, "
            f"{sequential.labels_written} labels in {sequential_s:.1f} s"
        )
        bias = judge_position_bias(judge=judge)
        batched_rate, sequential_rate = batched.done / batched_s, sequential.done / sequential_s
        print(
            f"  speed-up: {batched_rate / sequential_rate:.1f}x; orders disagree on "
            f"{bias.inconsistent} of {bias.compared} tasks"
        )
        print(
            f"judged={batched.done} batched_per_s={batched_rate:.1f} "
            f"sequential_per_s={sequential_rate:.1f} position_bias={bias.first_position_share:.3f}"
        )


if __name__ == "__main__":
    main()
