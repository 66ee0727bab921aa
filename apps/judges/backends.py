"""Where a judge's verdicts come from. Nothing here touches the database: the service hands in
requests (a filled template, the responses in shown order) and gets back verdicts in shown
positions.

- `TextJudge`: a generation backend (an OpenAI-compatible endpoint, or a local model that
  writes its answer) replies to the filled template at temperature 0; the reply is parsed.
- `LetterOddsJudge`: a local causal LM's next-token odds after the filled template — "A" against
  "B" for a pair, "yes" against "no" for thumbs — in one forward pass per batch; the gap in
  probability sets the strength (prompts.STRENGTH_BOUNDS). Listwise and principle requests
  are handed to the local model's `TextJudge`.
- `RewardModelJudge`: a trained reward model scores each response; P(first better) is the
  sigmoid of the score gap (Bradley-Terry); a ranking is the scores' order. A principle reward
  model (RLBFF) also answers principle requests: Yes where its Yes-log-odds for that principle
  is above 0.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.generation.backends import GenerationBackend, GenerationError
from apps.judges.prompts import pair_from_probability, parse_reply, sigmoid

REPLY_LENGTH = 2000  # what is kept of a reply


@dataclass(frozen=True)
class JudgeRequest:
    kind: str  # pairwise, listwise, principles, thumbs
    text: str  # the filled template
    messages: list[dict]  # the task's conversation (reward models score against it)
    shown: list[str]  # the responses, in shown order
    principle_ids: tuple[int, ...] = ()
    principle_texts: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class JudgeReply:
    payload: dict | None  # in shown positions; None: no verdict in the reply
    reply: str


class JudgeRunner(ABC):
    """Answers judge requests, in order. Raises GenerationError when the model cannot answer."""

    kinds: tuple[str, ...] = ("pairwise", "listwise", "principles", "thumbs")

    @abstractmethod
    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]: ...

    def close(self) -> None:
        return None

    def __enter__(self) -> JudgeRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _parsed(request: JudgeRequest, reply: str) -> JudgeReply:
    payload = parse_reply(
        request.kind, reply, size=len(request.shown), principle_ids=request.principle_ids
    )
    return JudgeReply(payload=payload, reply=reply.strip()[:REPLY_LENGTH])


class TextJudge(JudgeRunner):
    """A generation backend's greedy reply to each filled template, parsed."""

    def __init__(self, backend: GenerationBackend, *, max_tokens: int = 64):
        self.backend = backend
        self.max_tokens = max_tokens

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        if not requests:
            return []
        conversations = [[{"role": "user", "content": r.text}] for r in requests]
        replies = self.backend.generate_batch(
            conversations, n=1, temperature=0.0, top_p=1.0, max_tokens=self.max_tokens
        )
        return [_parsed(r, texts[0]) for r, texts in zip(requests, replies, strict=True)]

    def close(self) -> None:
        self.backend.close()


class LetterOddsJudge(JudgeRunner):
    """A local causal LM read at its next token (see the module docstring)."""

    LETTERS = {"pairwise": ("A", "B"), "thumbs": ("yes", "no")}

    def __init__(self, *, model_path: str, device: str = "auto", text_judge: TextJudge):
        self.model_path = model_path
        self.device = device
        self.text_judge = text_judge

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        replies: list[JudgeReply | None] = [None] * len(requests)
        odds = [i for i, r in enumerate(requests) if r.kind in self.LETTERS]
        text = [i for i, r in enumerate(requests) if r.kind not in self.LETTERS]
        if odds:
            for i, reply in zip(odds, self._odds([requests[i] for i in odds]), strict=True):
                replies[i] = reply
        if text:
            answered = self.text_judge.judge_batch([requests[i] for i in text])
            for i, reply in zip(text, answered, strict=True):
                replies[i] = reply
        return replies  # type: ignore[return-value]

    def _odds(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        import torch

        from apps.generation.backends import _load  # the process-wide cache of local models

        loaded = _load(self.model_path, self.device)
        tokenizer, model = loaded.tokenizer, loaded.model
        context = getattr(model.config, "max_position_embeddings", None) or getattr(
            model.config, "n_positions", None
        )
        with loaded.lock, torch.inference_mode():
            try:
                encoded = tokenizer(
                    [r.text for r in requests],
                    return_tensors="pt",
                    padding=True,
                    truncation=context is not None,
                    max_length=context,
                ).to(loaded.device)
                mask = encoded["attention_mask"]
                # Left padding: each row's positions count from its first real token, so a row
                # reads the same alone as in a batch.
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = model(
                    input_ids=encoded["input_ids"], attention_mask=mask, position_ids=positions
                ).logits[:, -1, :]
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"The local judge model failed: {exc}") from None
            log_probs = torch.log_softmax(logits.float(), dim=-1)
        out = []
        for row, request in zip(log_probs, requests, strict=True):
            first, second = (
                _logsumexp([float(row[t]) for t in _token_ids(tokenizer, word)])
                for word in self.LETTERS[request.kind]
            )
            p_first = 1 / (1 + math.exp(second - first))
            if request.kind == "pairwise":
                payload = pair_from_probability(p_first)
            else:
                payload = {"labels": [p_first > 0.5]}
            word = self.LETTERS[request.kind][0 if p_first >= 0.5 else 1]
            out.append(JudgeReply(payload=payload, reply=f"{word} (p={p_first:.4f})"))
        return out

    def close(self) -> None:
        self.text_judge.close()


def _token_ids(tokenizer: Any, word: str) -> list[int]:
    """The tokens that start `word` as the model's next token: the word's own first token, and
    the word after a space when that is one token of its own."""
    ids = {tokenizer.encode(word, add_special_tokens=False)[0]}
    spaced = tokenizer.encode(" " + word, add_special_tokens=False)
    if len(spaced) == 1:
        ids.add(spaced[0])
    return sorted(ids)


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


class RewardModelJudge(JudgeRunner):
    """A trained reward model's scores as verdicts (see the module docstring)."""

    kinds = ("pairwise", "listwise")

    def __init__(self, *, model_dir: str):
        from pathlib import Path

        from trainer.scoring import load_reward_model

        self.scorer = load_reward_model(Path(model_dir))
        if self.scorer.kind == "principle":
            self.kinds = ("pairwise", "listwise", "principles")

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        principled = [i for i, r in enumerate(requests) if r.kind == "principles"]
        others = [i for i, r in enumerate(requests) if r.kind != "principles"]
        replies: list[JudgeReply | None] = [None] * len(requests)
        for indexes, answer in ((principled, self._verdicts), (others, self._scores)):
            if indexes:
                for i, reply in zip(indexes, answer([requests[i] for i in indexes]), strict=True):
                    replies[i] = reply
        return replies  # type: ignore[return-value]

    def _verdicts(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Each principle of each request (one response each) answered by the model's
        Yes-log-odds for that principle alone."""
        odds: dict[str, list[float]] = {}
        for text in dict.fromkeys(t for r in requests for t in r.principle_texts):
            try:
                odds[text] = self.scorer.score(
                    [r.messages for r in requests],
                    [r.shown[0] for r in requests],
                    principles=[text],
                )
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"The reward model failed to score: {exc}") from None
        out = []
        for i, request in enumerate(requests):
            pairs = list(zip(request.principle_ids, request.principle_texts, strict=True))
            verdicts = [
                {
                    "response": 0,
                    "principle": pk,
                    "verdict": "yes" if odds[text][i] > 0 else "no",
                    "evidence": "",
                }
                for pk, text in pairs
            ]
            shown = ", ".join(f"{pk}: {odds[text][i]:+.4f}" for pk, text in pairs)
            out.append(JudgeReply(payload={"verdicts": verdicts}, reply=f"Yes log-odds {shown}"))
        return out

    def _scores(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        prompts, texts = [], []
        for request in requests:
            prompts += [request.messages] * len(request.shown)
            texts += list(request.shown)
        try:
            scores = self.scorer.score(prompts, texts) if texts else []
        except (RuntimeError, ValueError) as exc:
            raise GenerationError(f"The reward model failed to score: {exc}") from None
        out, start = [], 0
        for request in requests:
            mine = [float(s) for s in scores[start : start + len(request.shown)]]
            start += len(request.shown)
            shown_scores = ", ".join(f"{s:.4f}" for s in mine)
            if request.kind == "pairwise":
                payload = pair_from_probability(sigmoid(mine[0] - mine[1]))
            else:
                order = {s: rank for rank, s in enumerate(sorted(set(mine), reverse=True), 1)}
                payload = {"not_rankable": False, "reason": "", "ranks": [order[s] for s in mine]}
            out.append(JudgeReply(payload=payload, reply=f"scores {shown_scores}"))
        return out
