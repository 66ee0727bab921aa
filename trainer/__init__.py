"""Arbiter's training library: reward models and policies from human feedback, with no Django in sight.

    from trainer import train, TrainingCallbacks, objectives
    result = train(objective="reward_pairwise", config={...}, train_path=..., eval_path=..., output_dir=...,
                   callbacks=TrainingCallbacks(on_progress=..., should_stop=..., on_log=...), resume=False)

See trainer/README.md for the dataset formats, the objectives and the CLI.
"""

from trainer.api import train
from trainer.errors import (
    ConfigError,
    DatasetError,
    ModelLoadError,
    TrainerError,
    UnknownObjectiveError,
)
from trainer.events import ProgressEvent, TrainingCallbacks, TrainingResult
from trainer.registry import Objective, objectives

__all__ = [
    "ConfigError",
    "DatasetError",
    "ModelLoadError",
    "Objective",
    "ProgressEvent",
    "TrainerError",
    "TrainingCallbacks",
    "TrainingResult",
    "UnknownObjectiveError",
    "objectives",
    "train",
]
