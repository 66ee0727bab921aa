"""Train in several processes: start the trainer CLI under a launcher and relay what its main process reports.

`torchrun` on CPU (gloo), `accelerate launch` on GPUs (DDP by default, FSDP or DeepSpeed ZeRO when the run
names an accelerate config file). The launcher runs in its own process group, which this module ends as a
whole; it also gets SIGTERM if the calling process dies (Linux), so no rank outlives its supervisor.

What passes between the two sides is files in the run's output directory: the main rank appends JSON lines to
a progress file (steps, log lines, the result or an error), and a stop file, created here when
`should_stop()` turns True, makes every rank stop after its current step. If a rank dies (killed, crashed),
the launch is started once more with `--resume` from the newest checkpoint; if that fails too, the run fails
with the reason and the last lines the processes printed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError
from trainer.events import ProgressEvent, TrainingCallbacks, TrainingResult
from trainer.loop import latest_checkpoint
from trainer.outputs import CHECKPOINT_SUBDIR

LAUNCH_SUBDIR = "launch"
POLL_SECONDS = 0.25
# How long the ranks get to checkpoint and exit after SIGTERM before the group is killed.
TERMINATE_GRACE_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


class LaunchError(TrainerError):
    """The training processes died without a result (a rank was killed or crashed), even after a resume."""


def launcher_command(
    *, processes: int, cuda: bool, accelerate_config: str | None = None
) -> list[str]:
    """The command that starts `processes` copies of `python -m trainer`: accelerate launch on GPUs,
    torchrun on CPU (accelerate launch --cpu starts only one process on some machines)."""
    if cuda:
        command = [sys.executable, "-m", "accelerate.commands.launch"]
        if accelerate_config:
            command += ["--config_file", accelerate_config]
        return [*command, "--num_processes", str(processes), "-m", "trainer"]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(processes),
        "-m",
        "trainer",
    ]


def train_in_processes(
    *,
    processes: int,
    objective: str,
    config: dict[str, Any],
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks | None = None,
    resume: bool = False,
    cuda: bool = False,
    accelerate_config: str | None = None,
    environment: dict[str, str] | None = None,
    checker_modules: list[str] | None = None,
) -> TrainingResult:
    """`trainer.train`, run by `processes` processes; callbacks see the main process's progress live.

    Raises TrainerError with the trainer's own message for bad input, and LaunchError when the processes
    died without a result twice (the second time resuming from the newest checkpoint). `checker_modules` are
    imported by every process before training (they register the online objectives' reward checkers).
    """
    callbacks = callbacks or TrainingCallbacks()
    output_dir = Path(output_dir)
    launch_dir = output_dir / LAUNCH_SUBDIR
    launch_dir.mkdir(parents=True, exist_ok=True)
    config_path = launch_dir / "config.json"
    config_path.write_text(json.dumps({**config, "objective": objective}), encoding="utf-8")
    stop_file = launch_dir / "stop"
    stop_file.unlink(missing_ok=True)
    base = launcher_command(processes=processes, cuda=cuda, accelerate_config=accelerate_config)
    for attempt in (1, 2):
        progress = launch_dir / f"progress-{attempt}.jsonl"
        progress.unlink(missing_ok=True)
        command = [
            *base,
            "train",
            "--config",
            str(config_path),
            "--data",
            str(train_path),
            "--out",
            str(output_dir),
            "--progress-file",
            str(progress),
            "--stop-file",
            str(stop_file),
        ]
        if eval_path is not None:
            command += ["--eval-data", str(eval_path)]
        for module in checker_modules or []:
            command += ["--checker-module", module]
        if resume:
            command.append("--resume")
        outcome, tail = _supervise(
            command, progress=progress, stop_file=stop_file, callbacks=callbacks, env=environment
        )
        if outcome.get("event") == "result":
            return TrainingResult(
                status=outcome["status"],
                metrics=outcome["metrics"],
                model_dir=Path(outcome["model_dir"]),
            )
        if outcome.get("event") == "error":
            raise TrainerError(outcome["message"])
        reason = outcome.get("reason", "the training processes ended without a result")
        checkpoint = latest_checkpoint(output_dir / CHECKPOINT_SUBDIR)
        if attempt == 1 and checkpoint is not None and not stop_file.exists():
            callbacks.on_log(f"{reason}; resuming from {checkpoint.name}")
            resume = True
            continue
        last_lines = " | ".join(tail)
        raise LaunchError(f"{reason}. Last output: {last_lines}" if tail else reason)
    raise AssertionError("unreachable")


def _supervise(
    command: list[str],
    *,
    progress: Path,
    stop_file: Path,
    callbacks: TrainingCallbacks,
    env: dict[str, str] | None,
) -> tuple[dict[str, Any], deque[str]]:
    """Run the launch to its end, relaying progress; return its final record (result, error, or a reason)."""
    tail: deque[str] = deque(maxlen=8)
    log_path = progress.with_suffix(".log")
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            preexec_fn=_own_group_dying_with_parent,
        )
        offset = 0
        final: dict[str, Any] = {}
        try:
            while True:
                exited = process.poll() is not None
                offset, records = _read_new(progress, offset)
                for record in records:
                    final = _relay(record, callbacks) or final
                if exited:
                    break
                if not stop_file.exists() and callbacks.should_stop():
                    stop_file.touch()
                time.sleep(POLL_SECONDS)
        except BaseException:
            _end_group(process)
            raise
    tail.extend(_last_lines(log_path))
    if not final and process.returncode != 0:
        final = {"reason": f"a training process died (launcher exit status {process.returncode})"}
    _end_group(process)
    return final, tail


def _relay(record: dict[str, Any], callbacks: TrainingCallbacks) -> dict[str, Any] | None:
    kind = record.pop("event", None)
    if kind == "progress":
        callbacks.on_progress(ProgressEvent(**record))
    elif kind == "log":
        callbacks.on_log(record["line"])
    elif kind in ("result", "error"):
        return {"event": kind, **record}
    return None


def _read_new(path: Path, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Complete JSON lines appended since `offset` (a half-written last line waits for the next read)."""
    if not path.exists():
        return offset, []
    with path.open("rb") as stream:
        stream.seek(offset)
        chunk = stream.read()
    end = chunk.rfind(b"\n") + 1
    lines = chunk[:end].decode("utf-8").split("\n")
    return offset + end, [json.loads(line) for line in lines if line.strip()]


def _last_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip()][-8:]


def _own_group_dying_with_parent() -> None:
    # Runs in the child before exec: a process group of its own (so the whole launch is ended together),
    # and SIGTERM when the supervising process dies, so no rank trains on without it.
    os.setsid()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _end_group(process: subprocess.Popen) -> None:
    """SIGTERM the launch's process group (ranks checkpoint and stop), then SIGKILL what is left."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        group = process.pid
    for sig, wait in ((signal.SIGTERM, TERMINATE_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None and not _group_alive(group):
                return
            time.sleep(0.1)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
