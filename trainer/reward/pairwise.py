"""reward_pairwise: Bradley-Terry on (prompt, chosen, rejected[, margin])."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from trainer.config import RewardPairwiseConfig
from trainer.data import Row, prompt_as_text
from trainer.losses import bradley_terry_loss
from trainer.metrics import mean, pairwise_accuracy
from trainer.reward.batching import encode_pairs
from trainer.reward.tasks import Example


class PairwiseTask:
    """Scores chosen and rejected separately with one scalar head; loss -log sigmoid(r_c - r_r - m)."""

    objective = "reward_pairwise"
    dataset_kind = "pairwise"
    num_outputs = 1

    def __init__(self, config: RewardPairwiseConfig, tokenizer: PreTrainedTokenizerBase) -> None:
        self.config = config
        self.tokenizer = tokenizer

    def encode(self, rows: list[Row]) -> list[Example]:
        prompts = [prompt_as_text(row["prompt"]) for row in rows]
        chosen = encode_pairs(
            self.tokenizer, prompts, [r["chosen"] for r in rows], max_length=self.config.max_length
        )
        rejected = encode_pairs(
            self.tokenizer,
            prompts,
            [r["rejected"] for r in rows],
            max_length=self.config.max_length,
        )
        return [
            Example(sequences=[c, r], target={"margin": row.get("margin", 0.0)})
            for c, r, row in zip(chosen, rejected, rows, strict=True)
        ]

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        pairs = scores.view(len(examples), 2)
        chosen, rejected = pairs[:, 0], pairs[:, 1]
        margin = None
        if self.config.use_margin:
            margin = torch.tensor(
                [e.target["margin"] for e in examples], dtype=scores.dtype, device=scores.device
            )
        loss = bradley_terry_loss(chosen, rejected, margin)
        if self.config.center_rewards_coefficient:
            loss = loss + self.config.center_rewards_coefficient * ((chosen + rejected) ** 2).mean()
        with torch.no_grad():
            accuracy = (chosen > rejected).float().mean().item()
        return loss, {"accuracy": accuracy}

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        chosen = [float(s[0, 0]) for s in scores]
        rejected = [float(s[1, 0]) for s in scores]
        return {
            "pairwise_accuracy": pairwise_accuracy(chosen, rejected),
            "mean_reward_gap": mean([c - r for c, r in zip(chosen, rejected, strict=True)]),
        }

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        return {"objective": self.objective, "score": {"kind": "scalar"}}
