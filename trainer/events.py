"""What the trainer reports back: progress events, the callbacks it calls, and the final result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class ProgressEvent:
    """One optimizer step done.

    `step` counts optimizer steps from 1 (continuing the saved count after a resume), `epoch` is fractional,
    `loss` is the step's training loss (None when the step logged none), `metrics` holds extra per-step numbers
    (learning rate, objective-specific statistics), `eta_seconds` extrapolates from the steps run in this process.
    """

    step: int
    total_steps: int
    epoch: float
    loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    eta_seconds: float | None = None


def _never() -> bool:
    return False


def _ignore(_: object) -> None:
    return None


@dataclass
class TrainingCallbacks:
    """Hooks the caller passes to `train`.

    `on_progress` is called after every optimizer step; `should_stop` is polled after every step and, when it
    returns True, the run checkpoints and returns with status "cancelled"; `on_log` receives human-readable lines.
    All three must be cheap: they run on the training thread.
    """

    on_progress: Callable[[ProgressEvent], None] = _ignore
    should_stop: Callable[[], bool] = _never
    on_log: Callable[[str], None] = _ignore


Status = Literal["succeeded", "cancelled"]


@dataclass
class TrainingResult:
    """What `train` returns.

    `model_dir` always exists when `train` returns: the finished model, or on cancel the model as it stood
    at the last step (its metadata says `"finished": false`). `metrics` are held-out numbers for a finished run
    and the last training numbers for a cancelled one; `history` is one dict per logged step plus a final
    evaluation entry.
    """

    status: Status
    metrics: dict[str, float]
    model_dir: Path
    history: list[dict] = field(default_factory=list)
