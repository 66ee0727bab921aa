"""make bench-generation: responses per second of a generation job with a local model, batched
against one prompt at a time.

Builds a small GPT-2-shaped model (byte-level tokenizer, random weights) in a temporary folder,
seeds 256 prompts in a throwaway SQLite database, and runs the same generation job twice through
the real service (sampling, writing responses and tasks per batch): once with `batch_size`
prompts per batch, once with one. Same model, same max tokens, same thread count for both.

Environment: BENCH_PROMPTS (256), BENCH_BATCH (32), BENCH_MAX_TOKENS (64), BENCH_THREADS (torch's
default), BENCH_LAYERS (4), BENCH_WIDTH (256).

On a machine whose cores are busy with other work, torch's default of one thread per core makes
every step wait on the slowest thread (OpenMP spin barriers): both figures drop by 10x or more.
Give BENCH_THREADS=1 there, or compare runs on a quiet machine only.
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

PROMPTS = int(os.environ.get("BENCH_PROMPTS", "256"))
BATCH = int(os.environ.get("BENCH_BATCH", "32"))
MAX_TOKENS = int(os.environ.get("BENCH_MAX_TOKENS", "64"))
LAYERS = int(os.environ.get("BENCH_LAYERS", "4"))
WIDTH = int(os.environ.get("BENCH_WIDTH", "256"))
TOPICS = ["bread", "bikes", "music", "plants", "money", "dogs", "exams", "coffee"]


def seed():
    from apps.accounts.models import User
    from apps.corpus.models import Prompt
    from apps.projects.models import FeedbackKind, Membership, Project, Role

    admin = User.objects.create_user("bench-admin", password="bench-pass", is_staff=True)
    projects = []
    for name in ("batched", "sequential"):
        project = Project.objects.create(name=name, kind=FeedbackKind.THUMBS, created_by=admin)
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
        Prompt.objects.bulk_create(
            [
                Prompt(
                    project=project,
                    messages=[
                        {
                            "role": "user",
                            "content": f"Question {i}: what should I know about "
                            f"{TOPICS[i % len(TOPICS)]}?",
                        }
                    ],
                )
                for i in range(PROMPTS)
            ]
        )
        projects.append(project)
    return admin, projects


def run_job(*, project, user, model: str, batch_size: int) -> tuple[float, int]:
    from apps.generation.models import GenerationJob
    from apps.generation.services import generation_job_create

    started = time.perf_counter()
    job = generation_job_create(
        project=project,
        user=user,
        backends=[{"type": "transformers", "model": model, "device": "cpu", "name": "bench"}],
        n_per_prompt=1,
        temperature=1.0,
        top_p=1.0,
        max_tokens=MAX_TOKENS,
        batch_size=batch_size,
    )
    elapsed = time.perf_counter() - started
    job = GenerationJob.objects.get(pk=job.pk)
    if job.status != "succeeded":
        sys.exit(f"The {project.name} job did not succeed: {job.status} {job.error}")
    return elapsed, job.responses_created


def main() -> None:
    threads = quiet_torch_threads()
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        folder = Path(tmp)
        model_dir, parameters = build_random_gpt2(
            folder / "models" / "gpt2", layers=LAYERS, width=WIDTH
        )
        reference = f"base:models/{model_dir.name}"
        setup_throwaway_django(folder)
        from apps.generation.backends import backend_from_config

        admin, (batched_project, sequential_project) = seed()
        # Load the model once before timing, as a worker that already served a job has it.
        backend_from_config(
            {"type": "transformers", "model": str(model_dir), "device": "cpu"}
        ).generate([{"role": "user", "content": "warm up"}], max_tokens=4)

        print(
            f"GPT-2 {LAYERS} layers x {WIDTH} wide ({parameters / 1e6:.1f} M parameters, random "
            f"weights), {PROMPTS} prompts, 1 response each, max_tokens={MAX_TOKENS}, "
            f"temperature 1.0, {threads} CPU thread{'s' * (threads > 1)}; the whole job path "
            "(sampling, then responses and tasks written per batch). Load average before: "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
        )
        batched_s, batched_n = run_job(
            project=batched_project, user=admin, model=reference, batch_size=BATCH
        )
        print(f"  batched ({BATCH} prompts per batch): {batched_n} responses in {batched_s:.1f} s")
        sequential_s, sequential_n = run_job(
            project=sequential_project, user=admin, model=reference, batch_size=1
        )
        print(
            f"  one prompt at a time:               {sequential_n} responses in {sequential_s:.1f} s"
        )
        batched_rate, sequential_rate = batched_n / batched_s, sequential_n / sequential_s
        print(f"  speed-up: {batched_rate / sequential_rate:.1f}x")
        print(f"batched_per_s={batched_rate:.1f} sequential_per_s={sequential_rate:.1f}")


if __name__ == "__main__":
    main()
