"""What the four reward objectives share: the example type and the task interface the runner drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import PreTrainedTokenizerBase

from trainer.data import Row
from trainer.reward.batching import Encoded


@dataclass
class Example:
    """One training unit: the sequences scored together (a pair, a list, one row) and what they are judged by."""

    sequences: list[Encoded]
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        """Padded width this example needs: its longest sequence."""
        return max(len(s) for s in self.sequences)


class RewardTask(Protocol):
    """A reward objective, as the runner sees it; built from the config and the backbone's tokenizer."""

    objective: str
    dataset_kind: str
    num_outputs: int

    def __init__(self, config: Any, tokenizer: PreTrainedTokenizerBase) -> None: ...

    def encode(self, rows: list[Row]) -> list[Example]:
        """Tokenise rows into examples (truncating, never dropping)."""
        ...

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of a batch from the (N, num_outputs) scores of its sequences, flattened in example order."""
        ...

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        """Held-out metrics from each example's (len(sequences), num_outputs) scores."""
        ...

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        """What `trainer.scoring` needs to turn the model's outputs into one score (given the training rows)."""
        ...
