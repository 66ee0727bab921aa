"""The objectives the trainer offers, with the dataset kind each one reads.

Importing this module is cheap (no torch), so the web app can list objectives in a form without loading
any model code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from trainer.config import (
    BaseConfig,
    DpoConfig,
    GrpoConfig,
    KtoConfig,
    LipoConfig,
    RaftConfig,
    RewardListwiseConfig,
    RewardPairwiseConfig,
    RewardPrincipleConfig,
    RewardReactionConfig,
    RlooConfig,
    SftConfig,
)


@dataclass(frozen=True)
class Objective:
    """One trainable objective.

    dataset_kind: the JSONL format it reads (see trainer/README.md): pairwise, unpaired_binary, listwise,
        principles, reactions, prompts (any file with a `prompt` column), or sft (prompt, completion).
    family: "reward" (produces a reward-model directory) or "policy" (produces a causal-LM directory).
    """

    name: str
    dataset_kind: str
    family: str
    config_class: type[BaseConfig]
    description: str


_ALL = (
    Objective(
        "reward_pairwise", "pairwise", "reward", RewardPairwiseConfig, "Bradley-Terry reward model"
    ),
    Objective(
        "reward_listwise",
        "listwise",
        "reward",
        RewardListwiseConfig,
        "LiPO-λ / Plackett-Luce reward model",
    ),
    Objective(
        "reward_principle",
        "principles",
        "reward",
        RewardPrincipleConfig,
        "RLBFF principle reward model",
    ),
    Objective(
        "reward_reaction",
        "reactions",
        "reward",
        RewardReactionConfig,
        "RLUF reaction model (P[love])",
    ),
    Objective(
        "sft",
        "sft",
        "policy",
        SftConfig,
        "SFT on demonstrations and rewrites (TRL SFTTrainer, LoRA); can start a DPO run",
    ),
    Objective("dpo", "pairwise", "policy", DpoConfig, "DPO and variants (TRL DPOTrainer)"),
    Objective(
        "kto", "unpaired_binary", "policy", KtoConfig, "KTO from thumbs up/down (TRL KTOTrainer)"
    ),
    Objective(
        "lipo", "listwise", "policy", LipoConfig, "LiPO-λ policy optimisation on ranked lists"
    ),
    Objective(
        "raft", "prompts", "policy", RaftConfig, "RAFT: best-of-N by a reward model, then fine-tune"
    ),
    Objective(
        "grpo",
        "prompts",
        "policy",
        GrpoConfig,
        "GRPO: online RL on reward models and checkers (TRL GRPOTrainer)",
    ),
    Objective(
        "rloo",
        "prompts",
        "policy",
        RlooConfig,
        "RLOO: online RL, leave-one-out baseline (TRL RLOOTrainer)",
    ),
)

objectives: Mapping[str, Objective] = MappingProxyType(
    {objective.name: objective for objective in _ALL}
)
