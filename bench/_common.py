"""What the benchmarks that run a model job through the real service share: a random-weight GPT-2,
a throwaway SQLite database with the job run eagerly, and quiet logs at a chosen thread count."""

import os
from pathlib import Path


def build_random_gpt2(directory: Path, *, layers: int, width: int) -> tuple[Path, int]:
    """A GPT-2 with the byte-level tokenizer of tests/trainer/tiny.py, `layers` x `width`, random
    weights (seed 0), saved in `directory`; returns the directory and its parameter count."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from tests.trainer.tiny import build_tiny_gpt2

    build_tiny_gpt2(directory)  # its tokenizer, saved next to the model we replace
    tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=width,
        n_layer=layers,
        n_head=max(1, width // 64),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    return directory, sum(p.numel() for p in model.parameters())


def setup_throwaway_django(folder: Path) -> None:
    """Django on a new SQLite database in `folder`, migrated; jobs run in this process."""
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    # The job runs in this process when its transaction commits: no broker, no worker.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    # The operator offers the bench's model: jobs name it by reference, never by path.
    os.environ["ARBITER_MODEL_ROOTS"] = str(folder / "models")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def quiet_torch_threads() -> int:
    """Silence progress bars and library logs, set torch's thread count to BENCH_THREADS (torch's
    default when unset) and return it."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    threads = int(os.environ.get("BENCH_THREADS", torch.get_num_threads()))
    torch.set_num_threads(threads)
    return threads
