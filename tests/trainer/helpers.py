"""Assertions shared by the trainer tests."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file


def changed_weights(before: Path, after: Path) -> list[str]:
    """Names of the tensors that differ between two saved model directories (model.safetensors)."""
    old = load_file(str(before / "model.safetensors"))
    new = load_file(str(after / "model.safetensors"))
    common = sorted(set(old) & set(new))
    assert common, "the two models share no weight names"
    return [name for name in common if not torch.equal(old[name], new[name])]


def losses(history: list[dict]) -> list[float]:
    return [entry["loss"] for entry in history if entry.get("loss") is not None]


def fell(values: list[float], window: int = 3) -> bool:
    """Whether the mean of the last `window` losses is below the mean of the first `window`."""
    return sum(values[-window:]) / window < sum(values[:window]) / window
