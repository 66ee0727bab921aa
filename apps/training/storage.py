"""Where runs keep their files, under the storage root (MEDIA_ROOT)."""

from pathlib import Path

from django.conf import settings

from apps.training.models import TrainingRun


def storage_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def run_dir(run: TrainingRun) -> Path:
    return storage_root() / run.output_dir


def run_model_dir(run: TrainingRun) -> Path:
    """Where the trained model of a run lies (the trainer's `model` folder)."""
    return run_dir(run) / "output" / "model"
