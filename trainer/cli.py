"""Command line: `python -m trainer train ...` and `python -m trainer objectives`.

    python -m trainer train --config run.json --data train.jsonl [--eval-data test.jsonl] --out DIR [--resume]

run.json holds the config fields of the objective (see trainer/config.py) plus "objective" (or pass
--objective). Progress is printed one line per step; Ctrl-C or SIGTERM stops cooperatively after the current
step, writing a checkpoint that `--resume` continues from. Exit status: 0 succeeded, 2 bad input, 3 cancelled.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from trainer.errors import TrainerError
from trainer.events import ProgressEvent, TrainingCallbacks
from trainer.registry import objectives

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer", description="Arbiter's trainer")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train", help="train one objective")
    run.add_argument(
        "--config", type=Path, required=True, help="JSON file: config fields (+ 'objective')"
    )
    run.add_argument(
        "--objective", choices=sorted(objectives), help="overrides 'objective' in the config file"
    )
    run.add_argument("--data", type=Path, required=True, help="training JSONL file")
    run.add_argument("--eval-data", type=Path, help="held-out JSONL file of the same kind")
    run.add_argument(
        "--out", type=Path, required=True, help="output directory (model/, metrics.json)"
    )
    run.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint in --out"
    )
    commands.add_parser("objectives", help="list objectives and the dataset kind each reads")
    args = parser.parse_args(argv)

    if args.command == "objectives":
        for name, spec in objectives.items():
            print(f"{name:<18} {spec.family:<7} {spec.dataset_kind:<16} {spec.description}")
        return 0
    return _train(args)


def _train(args: argparse.Namespace) -> int:
    from trainer.api import train

    try:
        config = json.loads(args.config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read config {args.config}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not isinstance(config, dict):
        print(f"error: {args.config} must hold a JSON object", file=sys.stderr)
        return EXIT_BAD_INPUT
    objective = args.objective or config.pop("objective", None)
    config.pop("objective", None)
    if objective is None:
        print(
            "error: name the objective with --objective or an 'objective' key in the config",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True
        print("stop requested; finishing the current step", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    callbacks = TrainingCallbacks(
        on_progress=_print_progress,
        should_stop=lambda: stop_requested,
        on_log=lambda line: print(line, flush=True),
    )
    try:
        result = train(
            objective=objective,
            config=config,
            train_path=args.data,
            eval_path=args.eval_data,
            output_dir=args.out,
            callbacks=callbacks,
            resume=args.resume,
        )
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        json.dumps(
            {"status": result.status, "model_dir": str(result.model_dir), "metrics": result.metrics}
        )
    )
    return 0 if result.status == "succeeded" else EXIT_CANCELLED


def _print_progress(event: ProgressEvent) -> None:
    loss = f"{event.loss:.4f}" if event.loss is not None else "-"
    eta = f"{event.eta_seconds:.0f}s" if event.eta_seconds is not None else "?"
    print(
        f"step {event.step}/{event.total_steps} epoch {event.epoch:.2f} loss {loss} eta {eta}",
        flush=True,
    )
