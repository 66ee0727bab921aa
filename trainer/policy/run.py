"""What every policy objective sets up the same way before it trains: the device and the rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import PolicyConfig
from trainer.data import MIN_EVAL_ROWS, Row, load_rows
from trainer.device import DeviceChoice, choose_device
from trainer.events import TrainingCallbacks
from trainer.outputs import CHECKPOINT_SUBDIR


@dataclass(frozen=True)
class PolicyRun:
    """One policy run's config, device, rows and destination, from its start to `finish_policy_run`."""

    config: PolicyConfig
    device: DeviceChoice
    train_rows: list[Row]
    eval_rows: list[Row]  # empty when the run has no held-out file
    output_dir: Path
    callbacks: TrainingCallbacks

    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / CHECKPOINT_SUBDIR


def policy_run_start(
    *,
    config: PolicyConfig,
    kind: str,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
) -> PolicyRun:
    """Choose the device (threads, gradient checkpointing) and load the training rows and the held-out
    rows (at least MIN_EVAL_ROWS of them) of `kind`; raises what `choose_device`/`load_rows` raise."""
    device = choose_device(
        config.device,
        num_threads=config.num_threads,
        gradient_checkpointing=config.gradient_checkpointing,
    )
    train_rows = load_rows(kind, train_path)
    eval_rows = load_rows(kind, eval_path, min_rows=MIN_EVAL_ROWS) if eval_path else []
    return PolicyRun(
        config=config,
        device=device,
        train_rows=train_rows,
        eval_rows=eval_rows,
        output_dir=output_dir,
        callbacks=callbacks,
    )
