"""reward_reaction: RLUF-style model of which reaction a user gives a response (P[love] is the score)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

from trainer.config import REACTIONS, RewardReactionConfig
from trainer.data import Row, prompt_as_text
from trainer.metrics import auroc, mean
from trainer.reward.batching import encode_pairs
from trainer.reward.tasks import Example


def reaction_probabilities(logits: torch.Tensor, head: str) -> torch.Tensor:
    """(N, R) logits → (N, R) probabilities: softmax across reactions, or an independent sigmoid per reaction."""
    return logits.softmax(dim=-1) if head == "softmax" else logits.sigmoid()


class ReactionTask:
    """One output per reaction; softmax cross-entropy or one-vs-rest binary cross-entropy."""

    objective = "reward_reaction"
    dataset_kind = "reactions"
    num_outputs = len(REACTIONS)

    def __init__(self, config: RewardReactionConfig, tokenizer: PreTrainedTokenizerBase) -> None:
        self.config = config
        self.tokenizer = tokenizer

    def encode(self, rows: list[Row]) -> list[Example]:
        encoded = encode_pairs(
            self.tokenizer,
            [prompt_as_text(row["prompt"]) for row in rows],
            [row["completion"] for row in rows],
            max_length=self.config.max_length,
        )
        return [
            Example(sequences=[sequence], target={"reaction": REACTIONS.index(row["reaction"])})
            for sequence, row in zip(encoded, rows, strict=True)
        ]

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        labels = torch.tensor([e.target["reaction"] for e in examples], device=scores.device)
        if self.config.head == "softmax":
            loss = F.cross_entropy(scores, labels)
        else:
            loss = F.binary_cross_entropy_with_logits(
                scores, F.one_hot(labels, len(REACTIONS)).to(scores.dtype)
            )
        with torch.no_grad():
            accuracy = (scores.argmax(dim=-1) == labels).float().mean().item()
        return loss, {"accuracy": accuracy}

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        probabilities = reaction_probabilities(torch.cat(scores), self.config.head)
        labels = [e.target["reaction"] for e in examples]
        predicted = probabilities.argmax(dim=-1).tolist()
        metrics: dict[str, float] = {
            "accuracy": sum(p == y for p, y in zip(predicted, labels, strict=True)) / len(labels)
        }
        areas = []
        for index, reaction in enumerate(REACTIONS):
            area = auroc(probabilities[:, index].tolist(), [y == index for y in labels])
            if area is not None:
                metrics[f"auroc/{reaction}"] = area
                areas.append(area)
        if areas:
            metrics["auroc_mean"] = mean(areas)
        return metrics

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "score": {
                "kind": "reaction",
                "reaction": self.config.score_reaction,
                "head": self.config.head,
            },
            "labels": list(REACTIONS),
        }
