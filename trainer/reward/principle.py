"""reward_principle: RLBFF binary principle-following reward model.

The model reads the principle question, the prompt and the response, and outputs one number: the log-odds
that the answer is Yes, logit(Yes) - logit(No). It is trained with binary cross-entropy on the verdicts.
A response's score under a set of principles is the mean of its Yes-log-odds over those principles.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

from trainer.config import RewardPrincipleConfig
from trainer.data import Row, prompt_as_text
from trainer.metrics import auroc
from trainer.reward.batching import encode_pairs
from trainer.reward.tasks import Example


def principle_metric_key(row: Row) -> str:
    """A short, stable name for a row's principle in metric names (`auroc/<key>`): its
    `principle_id` column when the rows carry one (the web app's principle version), else a
    digest of the text. Never the text itself: it is untrusted and of any length."""
    principle_id = row.get("principle_id")
    if isinstance(principle_id, int) and not isinstance(principle_id, bool):
        return f"principle-{principle_id}"
    digest = hashlib.sha256(row["principle"].encode("utf-8")).hexdigest()[:12]
    return f"principle-text-{digest}"


def principle_first_segment(question_template: str, principle: str, prompt_text: str) -> str:
    """The first text segment: the question comes after the prompt, as the last thing read before the response,
    so truncation (which takes the first segment from its left) keeps it."""
    return prompt_text + "\n" + question_template.format(principle=principle)


class PrincipleTask:
    """One output: Yes-log-odds for (prompt, response, principle); BCE against the verdict."""

    objective = "reward_principle"
    dataset_kind = "principles"
    num_outputs = 1

    def __init__(self, config: RewardPrincipleConfig, tokenizer: PreTrainedTokenizerBase) -> None:
        self.config = config
        self.tokenizer = tokenizer

    def encode(self, rows: list[Row]) -> list[Example]:
        firsts = [
            principle_first_segment(
                self.config.question_template, row["principle"], prompt_as_text(row["prompt"])
            )
            for row in rows
        ]
        encoded = encode_pairs(
            self.tokenizer,
            firsts,
            [row["response"] for row in rows],
            max_length=self.config.max_length,
        )
        return [
            Example(
                sequences=[sequence],
                target={
                    "verdict": row["verdict"],
                    "principle": row["principle"],
                    "principle_key": principle_metric_key(row),
                    "prompt": str(row["prompt"]),
                },
            )
            for sequence, row in zip(encoded, rows, strict=True)
        ]

    def loss(
        self, scores: torch.Tensor, examples: list[Example]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        logits = scores[:, 0]
        verdicts = torch.tensor(
            [float(e.target["verdict"]) for e in examples], device=scores.device
        )
        loss = F.binary_cross_entropy_with_logits(logits, verdicts)
        with torch.no_grad():
            accuracy = ((logits > 0).float() == verdicts).float().mean().item()
        return loss, {"accuracy": accuracy}

    def evaluate(self, scores: list[torch.Tensor], examples: list[Example]) -> dict[str, float]:
        values = [float(s[0, 0]) for s in scores]
        verdicts = [bool(e.target["verdict"]) for e in examples]
        metrics: dict[str, float] = {
            "accuracy": sum((v > 0) == y for v, y in zip(values, verdicts, strict=True))
            / len(values)
        }
        overall = auroc(values, verdicts)
        if overall is not None:
            metrics["auroc"] = overall
        by_principle: dict[str, list[int]] = defaultdict(list)
        for index, example in enumerate(examples):
            by_principle[example.target["principle_key"]].append(index)
        correct_pairs = total_pairs = 0.0
        for key, indices in sorted(by_principle.items()):
            group_scores = [values[i] for i in indices]
            group_labels = [verdicts[i] for i in indices]
            area = auroc(group_scores, group_labels)
            if area is None:
                continue
            metrics[f"auroc/{key}"] = area
            # Pairs (a Yes response, a No response) under the same principle, ordered correctly.
            pairs = sum(group_labels) * (len(group_labels) - sum(group_labels))
            correct_pairs += area * pairs
            total_pairs += pairs
        if total_pairs:
            metrics["pairwise_accuracy"] = correct_pairs / total_pairs
        return metrics

    def metadata(self, train_rows: list[Row]) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "score": {"kind": "principle"},
            "question_template": self.config.question_template,
            # The default set a score averages over: every principle seen in training, in first-seen order.
            "principles": list(dict.fromkeys(row["principle"] for row in train_rows)),
            # What each `auroc/<key>` metric is about.
            "principle_metric_keys": {
                principle_metric_key(row): row["principle"] for row in train_rows
            },
        }
