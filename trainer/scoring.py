"""Scoring responses with a trained reward model, for the web app's suggestions and for judging policies.

    scorer = load_reward_model(model_dir)
    scorer.score(prompts, responses)            # one float per response, higher is better

What the score means depends on the objective the model was trained with:
    reward_pairwise, reward_listwise: the scalar reward.
    reward_principle: the mean, over a set of principles, of the Yes-log-odds logit(Yes) - logit(No) that the
        response satisfies each principle; the set is `principles=` if given, else the principles seen in
        training.
    reward_reaction: the probability of the model's score reaction (P[love] unless configured otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainer.data import Prompt, prompt_as_text
from trainer.errors import TrainerError
from trainer.reward.batching import encode_pairs, score_encoded
from trainer.reward.principle import principle_first_segment
from trainer.reward.reaction import reaction_probabilities


class RewardScorer:
    """A loaded reward model that turns (prompt, response) pairs into one score each."""

    def __init__(self, model_dir: Path, *, device: str = "cpu", batch_size: int = 32) -> None:
        from trainer.reward.model import load_reward_model_files

        self.model, self.tokenizer, self.metadata = load_reward_model_files(Path(model_dir))
        self.device = torch.device(device)
        self.model.to(self.device)
        self.batch_size = batch_size
        self.kind: str = self.metadata["score"]["kind"]
        self.max_length = int(self.metadata.get("max_length", 512))
        # Score inputs as the model saw them in training (models from before the choice used "pair").
        self.input_template = str(self.metadata.get("input_template", "pair"))

    @property
    def objective(self) -> str:
        return str(self.metadata["objective"])

    def score(
        self,
        prompts: Sequence[Prompt],
        responses: Sequence[str],
        *,
        principles: Sequence[str] | None = None,
    ) -> list[float]:
        """One score per (prompt, response); see the module docstring for what it means per objective."""
        if len(prompts) != len(responses):
            raise TrainerError(f"{len(prompts)} prompts but {len(responses)} responses")
        if not responses:
            return []
        texts = [prompt_as_text(p) for p in prompts]
        if self.kind == "principle":
            return self._principle_scores(texts, list(responses), principles)
        outputs = self._run_pairs(texts, list(responses))
        if self.kind == "reaction":
            labels = self.metadata["labels"]
            index = labels.index(self.metadata["score"]["reaction"])
            probabilities = reaction_probabilities(outputs, self.metadata["score"]["head"])
            return probabilities[:, index].tolist()
        return outputs[:, 0].tolist()

    def _principle_scores(
        self, texts: list[str], responses: list[str], principles: Sequence[str] | None
    ) -> list[float]:
        chosen = list(principles) if principles else list(self.metadata.get("principles", []))
        if not chosen:
            raise TrainerError("this principle reward model needs `principles=` to score against")
        template = self.metadata["question_template"]
        firsts = [principle_first_segment(template, p, text) for text in texts for p in chosen]
        seconds = [response for response in responses for _ in chosen]
        log_odds = self._run_pairs(firsts, seconds)[:, 0].view(len(responses), len(chosen))
        return log_odds.mean(dim=1).tolist()

    def _run_pairs(self, firsts: list[str], seconds: list[str]) -> torch.Tensor:
        encoded = encode_pairs(
            self.tokenizer,
            firsts,
            seconds,
            max_length=self.max_length,
            template=self.input_template,
        )
        return score_encoded(
            self.model,
            encoded,
            pad_token_id=self.tokenizer.pad_token_id,
            device=self.device,
            batch_size=self.batch_size,
        )


def load_reward_model(
    model_dir: Path | str, *, device: str = "cpu", batch_size: int = 32
) -> RewardScorer:
    """Load a reward-model directory written by `trainer.train` (any reward objective) for scoring.

    Raises ModelLoadError when the directory is not a reward model.
    """
    return RewardScorer(Path(model_dir), device=device, batch_size=batch_size)
