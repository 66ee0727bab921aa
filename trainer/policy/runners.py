"""Which function trains which policy objective."""

from collections.abc import Callable

from trainer.events import TrainingResult
from trainer.policy.dpo import train_dpo
from trainer.policy.kto import train_kto
from trainer.policy.lipo import train_lipo
from trainer.policy.online import train_grpo, train_rloo
from trainer.policy.raft import train_raft
from trainer.policy.sft import train_sft

RUNNERS: dict[str, Callable[..., TrainingResult]] = {
    "dpo": train_dpo,
    "kto": train_kto,
    "lipo": train_lipo,
    "raft": train_raft,
    "sft": train_sft,
    "grpo": train_grpo,
    "rloo": train_rloo,
}
