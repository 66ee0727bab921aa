"""The files a run leaves in its output directory, besides the model.

output_dir/model/         the trained model (or the model at the cancel step)
output_dir/checkpoints/   resumable checkpoints (checkpoint-<step>/)
output_dir/metrics.json   status, metrics, history and the config used
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trainer.config import BaseConfig
from trainer.events import Status

MODEL_SUBDIR = "model"
CHECKPOINT_SUBDIR = "checkpoints"
METRICS_FILE = "metrics.json"


def write_metrics(
    output_dir: Path,
    *,
    objective: str,
    status: Status,
    metrics: dict[str, float],
    history: list[dict[str, Any]],
    config: BaseConfig,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write metrics.json (atomically: a reader never sees half a file) and return its path.

    `extra` adds top-level keys, such as a reward model's "calibration" (ECE and reliability-diagram bins).
    """
    document = {
        "objective": objective,
        "status": status,
        "metrics": _finite(metrics),
        "history": [_finite(entry) for entry in history],
        "config": asdict(config),
        **(extra or {}),
    }
    path = output_dir / METRICS_FILE
    temporary = output_dir / (METRICS_FILE + ".tmp")
    temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
    temporary.replace(path)
    return path


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN/inf; a diverged loss is reported as null rather than as an invalid file.
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }
