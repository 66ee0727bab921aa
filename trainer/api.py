"""`train`: the one entry point the web app and the CLI call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.config import BaseConfig, parse_config
from trainer.errors import UnknownObjectiveError
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.registry import objectives


def quiet_progress_bars() -> None:
    """Turn off the progress bars of transformers and datasets (process-wide): progress is reported through
    `on_progress`, and bars written to a worker's stderr are only noise."""
    import datasets
    from transformers.utils import logging as transformers_logging

    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()


def train(
    *,
    objective: str,
    config: dict[str, Any] | BaseConfig | None,
    train_path: Path,
    eval_path: Path | None = None,
    output_dir: Path,
    callbacks: TrainingCallbacks | None = None,
    resume: bool = False,
) -> TrainingResult:
    """Train `objective` on the JSONL file at `train_path` and write the model and metrics.json to `output_dir`.

    `config` is a dict of the objective's config fields (see trainer.config) or a config instance.
    `eval_path` is a held-out file of the same dataset kind, never trained on; held-out metrics come from it.
    With `resume=True` training continues from the newest checkpoint in `output_dir` (a fresh start if none).
    Raises a `TrainerError` subclass for bad input before any training starts. Returns status "cancelled"
    when `callbacks.should_stop()` turned True (a checkpoint was written), else "succeeded".
    """
    if objective not in objectives:
        raise UnknownObjectiveError(
            f"unknown objective {objective!r}; choose one of {sorted(objectives)}"
        )
    spec = objectives[objective]
    parsed = parse_config(spec.config_class, config)
    callbacks = callbacks or TrainingCallbacks()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "config": parsed,
        "train_path": Path(train_path),
        "eval_path": Path(eval_path) if eval_path is not None else None,
        "output_dir": output_dir,
        "callbacks": callbacks,
        "resume": resume,
    }
    quiet_progress_bars()
    # Imported here so that `import trainer` stays cheap for the web app.
    if spec.family == "reward":
        from trainer.reward.runner import train_reward_model
        from trainer.reward.tasks_by_objective import TASKS

        return train_reward_model(task_factory=TASKS[objective], **common)
    from trainer.policy.runners import RUNNERS

    return RUNNERS[objective](**common)
