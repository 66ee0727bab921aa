"""The reward of an online run: reward models, regex matches and registered checkers, combined with weights.

    reward = build_reward(config, device="cpu")
    reward.scores(prompts, completions)          # (combined, {source name: scores})

A completion's reward is Σ_k w_k · s_k, where s_k is source k's score:
    reward model: what `trainer.scoring` returns for its objective (pairwise/listwise: the scalar reward;
        principle: the mean Yes-log-odds over `principles`; reaction: P[love]);
    regex: 1.0 when the pattern is found in the completion, else 0.0;
    checker: the float a registered verifiable reward function returns for (prompt text, completion).

Checkers are Python functions an operator registers in code (`register_checker`); a run's config can only name
one, never supply code. A checker that raises, or returns something that is not a finite number, fails the run
with a `RewardFunctionError` that names it and says why: a broken checker must not silently score 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from trainer.config import OnlineConfig
from trainer.data import Prompt, prompt_as_text
from trainer.errors import ConfigError, TrainerError

Checker = Callable[[str, str], float]
"""(prompt as text, completion) -> score."""

REGEX_TIMEOUT_SECONDS = 1.0
"""A pattern that takes longer than this on one completion fails the run (catastrophic backtracking)."""

_CHECKERS: dict[str, Checker] = {}


class RewardFunctionError(TrainerError):
    """A verifiable reward function failed on a completion; the run is refused with this reason."""


def register_checker(name: str) -> Callable[[Checker], Checker]:
    """Decorator: make `function(prompt, completion) -> float` available to runs as `name` (dotted names allowed,
    e.g. "math.exact_answer"). Registering a second function under a taken name is refused."""
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(
            f"checker name {name!r} must be dotted identifiers, e.g. 'math.exact_answer'"
        )

    def register(function: Checker) -> Checker:
        existing = _CHECKERS.get(name)
        if existing is not None and existing is not function:
            raise ValueError(f"a checker named {name!r} is already registered")
        _CHECKERS[name] = function
        return function

    return register


def unregister_checker(name: str) -> None:
    """Remove a registered checker (tests register their own and clean up)."""
    _CHECKERS.pop(name, None)


def registered_checkers() -> list[str]:
    """The names a run's `checkers` may use, sorted."""
    return sorted(_CHECKERS)


def combine(per_source: Sequence[Sequence[float]], weights: Sequence[float]) -> list[float]:
    """r_i = Σ_k weights[k] · per_source[k][i]: per_source is (K sources, N completions), the result (N,)."""
    if len(per_source) != len(weights):
        raise ValueError(f"{len(per_source)} reward sources but {len(weights)} weights")
    if not per_source:
        return []
    count = len(per_source[0])
    return [
        sum(weight * scores[i] for weight, scores in zip(weights, per_source, strict=True))
        for i in range(count)
    ]


@dataclass
class RewardSource:
    """One term of the reward: its name (for logs and metrics), weight, and scoring function."""

    name: str
    weight: float
    score: Callable[[Sequence[Prompt], Sequence[str]], list[float]]


def regex_source(pattern: str, *, weight: float = 1.0) -> RewardSource:
    compiled = regex.compile(pattern)

    def score(prompts: Sequence[Prompt], completions: Sequence[str]) -> list[float]:
        scores = []
        for completion in completions:
            try:
                found = compiled.search(completion, timeout=REGEX_TIMEOUT_SECONDS)
            except TimeoutError:
                raise RewardFunctionError(
                    f"regex reward {pattern!r} took over {REGEX_TIMEOUT_SECONDS:g} s on one completion"
                ) from None
            scores.append(1.0 if found else 0.0)
        return scores

    return RewardSource(name=f"regex:{pattern}", weight=weight, score=score)


def checker_source(name: str, *, weight: float = 1.0) -> RewardSource:
    """A registered checker as a reward source; an unknown name is a ConfigError."""
    if name not in _CHECKERS:
        known = ", ".join(registered_checkers()) or "none are registered"
        raise ConfigError(f"unknown checker {name!r}; registered checkers: {known}")
    function = _CHECKERS[name]

    def score(prompts: Sequence[Prompt], completions: Sequence[str]) -> list[float]:
        scores = []
        for prompt, completion in zip(prompts, completions, strict=True):
            try:
                value = function(prompt_as_text(prompt), completion)
            except Exception as exc:
                raise RewardFunctionError(
                    f"checker {name!r} raised {type(exc).__name__}: {exc} "
                    f"(on the completion {completion[:80]!r})"
                ) from exc
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise RewardFunctionError(
                    f"checker {name!r} returned {value!r}; a checker must return a finite number"
                )
            scores.append(float(value))
        return scores

    return RewardSource(name=f"checker:{name}", weight=weight, score=score)


def reward_model_source(
    directory: str,
    *,
    weight: float = 1.0,
    device: str = "cpu",
    principles: Sequence[str] = (),
    batch_size: int = 32,
) -> RewardSource:
    """A trained reward model (any reward objective) as a reward source, loaded once."""
    from trainer.scoring import load_reward_model

    scorer = load_reward_model(directory, device=device, batch_size=batch_size)
    chosen = list(principles) or None

    def score(prompts: Sequence[Prompt], completions: Sequence[str]) -> list[float]:
        if scorer.kind == "principle":
            return scorer.score(prompts, completions, principles=chosen)
        return scorer.score(prompts, completions)

    return RewardSource(name=f"{scorer.objective}:{directory}", weight=weight, score=score)


def _weights(weights: Sequence[float], count: int) -> list[float]:
    return list(weights) if weights else [1.0] * count


class CombinedReward:
    """The weighted sum of the sources; callable the way TRL's GRPOTrainer and RLOOTrainer call a reward function.

    TRL passes the prompts as it fed them to the policy; the original prompts (before rendering and truncation)
    come from the dataset column SOURCE_PROMPT, so reward models score what they were trained on.
    """

    SOURCE_PROMPT = "source_prompt"
    __name__ = "arbiter_reward"  # TRL names a reward function's metrics after its __name__

    def __init__(self, sources: list[RewardSource]) -> None:
        if not sources:
            raise ConfigError("a reward needs at least one source")
        # The same source may be named twice (e.g. one reward model at two weights): names stay distinct.
        seen: dict[str, int] = {}
        for source in sources:
            seen[source.name] = seen.get(source.name, 0) + 1
            if seen[source.name] > 1:
                source.name = f"{source.name}#{seen[source.name]}"
        self.sources = sources

    @property
    def weights(self) -> list[float]:
        return [source.weight for source in self.sources]

    def scores(
        self, prompts: Sequence[Prompt], completions: Sequence[str]
    ) -> tuple[list[float], dict[str, list[float]]]:
        """(combined reward per completion, each source's raw scores by name)."""
        scores = [source.score(prompts, completions) for source in self.sources]
        per_source = {source.name: s for source, s in zip(self.sources, scores, strict=True)}
        return combine(scores, self.weights), per_source

    def __call__(
        self,
        prompts: list[Any],
        completions: list[Any],
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float]:
        originals = columns.get(self.SOURCE_PROMPT)
        if originals is not None:
            prompts = [json.loads(p) for p in originals]
        texts = [completion_text(c) for c in completions]
        combined, per_source = self.scores(prompts, texts)
        if log_metric is not None:
            for index, scores in enumerate(per_source.values()):
                log_metric(f"reward_source_{index}", sum(scores) / max(len(scores), 1))
        return combined


def completion_text(completion: Any) -> str:
    """TRL hands a completion as a string, or (conversational prompts) as a list of assistant messages."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content", "")) for message in completion)


def build_reward(config: OnlineConfig, *, device: str = "cpu") -> CombinedReward:
    """Every source named in `config`, each with its weight, loaded once."""
    sources = [
        reward_model_source(
            directory,
            weight=weight,
            device=device,
            principles=config.principles,
            batch_size=config.eval_batch_size,
        )
        for directory, weight in zip(
            config.reward_models,
            _weights(config.reward_weights, len(config.reward_models)),
            strict=True,
        )
    ]
    sources += [
        regex_source(pattern, weight=weight)
        for pattern, weight in zip(
            config.regex_rewards,
            _weights(config.regex_weights, len(config.regex_rewards)),
            strict=True,
        )
    ]
    sources += [
        checker_source(name, weight=weight)
        for name, weight in zip(
            config.checkers, _weights(config.checker_weights, len(config.checkers)), strict=True
        )
    ]
    return CombinedReward(sources)
