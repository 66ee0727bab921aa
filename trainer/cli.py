"""Command line: `python -m trainer train ...` and `python -m trainer objectives`.

    python -m trainer train --config run.json --data train.jsonl [--eval-data test.jsonl] --out DIR [--resume]

run.json holds the config fields of the objective (see trainer/config.py) plus "objective" (or pass
--objective). Progress is printed one line per step; Ctrl-C or SIGTERM stops cooperatively after the current
step, writing a checkpoint that `--resume` continues from. Exit status: 0 succeeded, 2 bad input, 3 cancelled.

Several processes: `torchrun --nproc_per_node N -m trainer train ...` (CPU, gloo) or `accelerate launch
[--config_file ddp|fsdp|zero.yaml] -m trainer train ...` (GPUs). Only the main process (RANK 0) prints and
writes. For a supervising program: `--progress-file` gets one JSON object per line (a step, a log line, the
final result) from the main process, and `--stop-file` names a file whose appearance stops every process after
its current step, as SIGTERM does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
    run.add_argument(
        "--progress-file", type=Path, help="append JSON lines: steps, log lines, the final result"
    )
    run.add_argument(
        "--stop-file", type=Path, help="stop cooperatively (as on SIGTERM) once this file exists"
    )
    run.add_argument(
        "--checker-module",
        action="append",
        default=[],
        help="import this module first: it registers verifiable reward checkers (repeatable)",
    )
    commands.add_parser("objectives", help="list objectives and the dataset kind each reads")
    args = parser.parse_args(argv)

    if args.command == "objectives":
        for name, spec in objectives.items():
            print(f"{name:<18} {spec.family:<7} {spec.dataset_kind:<16} {spec.description}")
        return 0
    return _train(args)


def _train(args: argparse.Namespace) -> int:
    import importlib

    from trainer.api import train

    # The operator's checker modules (the web app's ARBITER_REWARD_CHECKER_MODULES), named by the
    # process that starts this one, never by a run's config.
    for module in args.checker_module:
        importlib.import_module(module)

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
    # Under torchrun / accelerate launch every process runs this; only the main one speaks.
    main_process = os.environ.get("RANK", "0") == "0"
    report = _Reporter(args.progress_file if main_process else None)

    def on_progress(event: ProgressEvent) -> None:
        if main_process:
            _print_progress(event)
            report.write({"event": "progress", **asdict(event)})

    def on_log(line: str) -> None:
        if main_process:
            print(line, flush=True)
            report.write({"event": "log", "line": line})

    stop_file = args.stop_file
    callbacks = TrainingCallbacks(
        on_progress=on_progress,
        should_stop=lambda: stop_requested or (stop_file is not None and stop_file.exists()),
        on_log=on_log,
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
        report.write({"event": "error", "message": str(exc)})
        return EXIT_BAD_INPUT
    outcome = {
        "status": result.status,
        "model_dir": str(result.model_dir),
        "metrics": result.metrics,
    }
    if main_process:
        print(json.dumps(outcome))
        report.write({"event": "result", **outcome})
    return 0 if result.status == "succeeded" else EXIT_CANCELLED


def _print_progress(event: ProgressEvent) -> None:
    loss = f"{event.loss:.4f}" if event.loss is not None else "-"
    eta = f"{event.eta_seconds:.0f}s" if event.eta_seconds is not None else "?"
    print(
        f"step {event.step}/{event.total_steps} epoch {event.epoch:.2f} loss {loss} eta {eta}",
        flush=True,
    )


class _Reporter:
    """Appends JSON lines to the progress file, flushed per line so a reader sees each step as it ends."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def write(self, record: dict[str, Any]) -> None:
        if self._path is None:
            return
        with self._path.open("a", encoding="utf-8") as stream:
            # NaN is written as NaN, which Python's json (the reader) reads back.
            stream.write(json.dumps(record) + "\n")
