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

if __package__ in (None, ""):
    # Run as a file: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench._common import build_random_gpt2, quiet_torch_threads, setup_throwaway_django

TASKS = int(os.environ.get("BENCH_TASKS", "1000"))
BATCH = int(os.environ.get("BENCH_BATCH", "32"))
LAYERS = int(os.environ.get("BENCH_LAYERS", "2"))
WIDTH = int(os.environ.get("BENCH_WIDTH", "64"))
TOPICS = ["bread", "bikes", "music", "plants", "money", "dogs", "exams", "coffee"]
TEMPLATE = (
    "Question: {{ prompt }}\n[A] {{ response_a }}\n[B] {{ response_b }}\n"
    "Which answer is better, A or B? Verdict: "
)


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
    threads = quiet_torch_threads()
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        folder = Path(tmp)
        model_dir, parameters = build_random_gpt2(
            folder / "models" / "gpt2", layers=LAYERS, width=WIDTH
        )
        reference = f"base:models/{model_dir.name}"
        setup_throwaway_django(folder)
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
