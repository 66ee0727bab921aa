"""reward_pairwise: Bradley-Terry on (prompt, chosen, rejected[, margin][, votes][, category])."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from trainer.config import RewardPairwiseConfig
from trainer.data import Row, prompt_as_text
from trainer.labels import row_preference, smoothed
from trainer.losses import soft_bradley_terry_loss
from trainer.metrics import mean, pairwise_accuracy, pairwise_calibration
from trainer.reward.batching import encode_pairs
from trainer.reward.tasks import Example


def row_category(row: Row) -> str | None:
    """The row's `category`, or `metadata.category`, as a string; None when it has neither."""
    category = row.get("category")
    if category is None and isinstance(row.get("metadata"), dict):
        category = row["metadata"].get("category")
    return None if category is None else str(category)


class PairwiseTask:
    """Scores chosen and rejected separately with one scalar head; a (soft, weighted) Bradley-Terry loss.

    Each example's target holds: margin (annotated strength), preference (the soft label p, from the votes
    and label smoothing), weight (the row's `weight` column, 1 without one: an export that includes LLM
    judges weights their rows below people's) and adaptive_margin (0), both until an ensemble estimate sets
    them, and category (for per-category accuracy).
    """

    objective = "reward_pairwise"
    dataset_kind = "pairwise"
    num_outputs = 1

    def __init__(self, config: RewardPairwiseConfig, tokenizer: PreTrainedTokenizerBase) -> None:
        self.config = config
        self.tokenizer = tokenizer

    def encode(self, rows: list[Row]) -> list[Example]:
        prompts = [prompt_as_text(row["prompt"]) for row in rows]
        options = {"max_length": self.config.max_length, "template": self.config.input_template}
        chosen = encode_pairs(self.tokenizer, prompts, [r["chosen"] for r in rows], **options)
        rejected = encode_pairs(self.tokenizer, prompts, [r["rejected"] for r in rows], **options)
        return [
            Example(
                sequences=[c, r],
                target={
                    "margin": row.get("margin", 0.0),
                    "preference": self._preference(row),
                    "weight": float(row.get("weight") or 1.0),
                    "adaptive_margin": 0.0,
                    "category": row_category(row),
                },
            )
            for c, r, row in zip(chosen, rejected, rows, strict=True)
        ]

    def _preference(self, row: Row) -> float:
        share = row_preference(row) if self.config.soft_labels else None
        return smoothed(1.0 if share is None else share, self.config.label_smoothing)

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        pairs = scores.view(len(examples), 2)
        chosen, rejected = pairs[:, 0], pairs[:, 1]

        def column(key: str) -> torch.Tensor:
            return torch.tensor(
                [e.target[key] for e in examples], dtype=scores.dtype, device=scores.device
            )

        margin = column("adaptive_margin")
        if self.config.use_margin:
            margin = margin + column("margin")
        loss = soft_bradley_terry_loss(
            chosen, rejected, column("preference"), margin=margin, weight=column("weight")
        )
        if self.config.center_rewards_coefficient:
            loss = loss + self.config.center_rewards_coefficient * ((chosen + rejected) ** 2).mean()
        with torch.no_grad():
            accuracy = (chosen > rejected).float().mean().item()
        return loss, {"accuracy": accuracy}

    def apply_estimate(self, examples: list[Example], gaps: list[float]) -> None:
        """Weight each pair by the ensemble's P(label right) = sigmoid(gap) and set its adaptive margin."""
        for example, gap in zip(examples, gaps, strict=True):
            example.target["weight"] = float(torch.sigmoid(torch.tensor(gap)))
            example.target["adaptive_margin"] = self.config.adaptive_margin * max(0.0, gap)

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        chosen = [float(s[0, 0]) for s in scores]
        rejected = [float(s[1, 0]) for s in scores]
        gaps = [c - r for c, r in zip(chosen, rejected, strict=True)]
        ece, _ = pairwise_calibration(gaps, bins=self.config.calibration_bins)
        metrics = {
            "pairwise_accuracy": pairwise_accuracy(chosen, rejected),
            "mean_reward_gap": mean(gaps),
            "ece": ece,
        }
        by_category: dict[str, list[int]] = defaultdict(list)
        for index, example in enumerate(examples):
            if example.target.get("category") is not None:
                by_category[example.target["category"]].append(index)
        for category, indices in sorted(by_category.items()):
            metrics[f"accuracy:{category}"] = pairwise_accuracy(
                [chosen[i] for i in indices], [rejected[i] for i in indices]
            )
        return metrics

    def calibration(self, scores: list[torch.Tensor]) -> dict[str, Any]:
        """The held-out reliability diagram of P(chosen ≻ rejected), for metrics.json and the run page."""
        gaps = [float(s[0, 0]) - float(s[1, 0]) for s in scores]
        ece, bins = pairwise_calibration(gaps, bins=self.config.calibration_bins)
        return {"ece": ece, "bins": bins}

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        return {"objective": self.objective, "score": {"kind": "scalar"}}
