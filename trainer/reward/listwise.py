"""reward_listwise: a scalar reward trained on ranked lists with LiPO-λ or Plackett-Luce."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from trainer.config import RewardListwiseConfig
from trainer.data import Row, prompt_as_text
from trainer.losses import lipo_lambda_loss, plackett_luce_loss
from trainer.metrics import kendall_tau, mean, ndcg, pairwise_accuracy
from trainer.reward.batching import encode_pairs
from trainer.reward.tasks import Example


def pad_lists(
    scores: torch.Tensor, sizes: list[int], ranks: list[list[int]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn flattened (N,) scores of lists of `sizes` into padded (B, K) scores, ranks and mask."""
    width = max(sizes)
    padded = scores.new_zeros((len(sizes), width))
    rank_tensor = torch.ones((len(sizes), width), dtype=torch.long, device=scores.device)
    mask = torch.zeros((len(sizes), width), dtype=torch.bool, device=scores.device)
    start = 0
    for b, size in enumerate(sizes):
        padded[b, :size] = scores[start : start + size]
        rank_tensor[b, :size] = torch.tensor(ranks[b], device=scores.device)
        mask[b, :size] = True
        start += size
    return padded, rank_tensor, mask


class ListwiseTask:
    """Each response of a list is scored on its own; the list loss compares the scores against the ranks."""

    objective = "reward_listwise"
    dataset_kind = "listwise"
    num_outputs = 1

    def __init__(self, config: RewardListwiseConfig, tokenizer: PreTrainedTokenizerBase) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self._loss = lipo_lambda_loss if config.loss == "lipo_lambda" else plackett_luce_loss

    def encode(self, rows: list[Row]) -> list[Example]:
        firsts = [prompt_as_text(row["prompt"]) for row in rows for _ in row["responses"]]
        seconds = [response for row in rows for response in row["responses"]]
        encoded = encode_pairs(self.tokenizer, firsts, seconds, max_length=self.config.max_length)
        examples, start = [], 0
        for row in rows:
            size = len(row["responses"])
            examples.append(
                Example(
                    sequences=encoded[start : start + size], target={"ranks": list(row["ranks"])}
                )
            )
            start += size
        return examples

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        padded, ranks, mask = pad_lists(
            scores[:, 0],
            [len(e.sequences) for e in examples],
            [e.target["ranks"] for e in examples],
        )
        return self._loss(padded, ranks, mask), {}

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        ndcgs, taus, better, worse = [], [], [], []
        for list_scores, example in zip(scores, examples, strict=True):
            values = list_scores[:, 0].tolist()
            ranks = example.target["ranks"]
            ndcgs.append(ndcg(values, ranks))
            tau = kendall_tau(values, ranks)
            if tau is not None:
                taus.append(tau)
            for i in range(len(ranks)):
                for j in range(len(ranks)):
                    if ranks[i] < ranks[j]:
                        better.append(values[i])
                        worse.append(values[j])
        metrics = {"ndcg": mean(ndcgs)}
        if taus:
            metrics["kendall_tau"] = mean(taus)
        if better:
            metrics["pairwise_accuracy"] = pairwise_accuracy(better, worse)
        return metrics

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        return {"objective": self.objective, "score": {"kind": "scalar"}, "loss": self.config.loss}
