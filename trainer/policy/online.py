"""grpo, rloo: online RL through TRL's GRPOTrainer and RLOOTrainer.

Each step samples `num_generations` completions per prompt from the policy being trained, scores them with the
combined reward (trainer.policy.rewards: reward models, regex matches, registered checkers, weighted), and moves
the policy towards the completions that beat their group, with a KL penalty `beta` to the reference (the base;
with LoRA, the base is the model with its adapters switched off). Progress, cancel, checkpoints and resume go
through the same bridge as the other TRL objectives (hf_bridge).

Generation: TRL's transformers `generate` path. TRL's vLLM path is chosen when vLLM is importable and a GPU is
present (generation_backend "auto" or "vllm"); vLLM is not installed on the machines this was built on, so that
path has never run here.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

from trainer.config import GrpoConfig, OnlineConfig, RlooConfig
from trainer.data import Row, prompt_as_text
from trainer.device import DeviceChoice
from trainer.errors import ConfigError
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.policy.common import load_policy
from trainer.policy.finish import finish_policy_run
from trainer.policy.hf_bridge import CallbackBridge, hf_arguments, run_hf_trainer
from trainer.policy.rewards import CombinedReward, build_reward
from trainer.policy.run import policy_run_start


def train_grpo(
    *,
    config: GrpoConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """GRPO on the prompts in `train_path`; held-out: the reward-hacking watch, KL, length (see finish)."""
    from trl import GRPOConfig as TrlGrpoConfig
    from trl import GRPOTrainer

    def arguments(common: dict[str, Any]) -> Any:
        return TrlGrpoConfig(
            **common, loss_type=config.loss_type, scale_rewards=config.scale_rewards
        )

    return _train_online(
        "grpo",
        GRPOTrainer,
        arguments,
        config=config,
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
        resume=resume,
    )


def train_rloo(
    *,
    config: RlooConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """RLOO on the prompts in `train_path`; held-out: the reward-hacking watch, KL, length (see finish)."""
    from trl import RLOOConfig as TrlRlooConfig
    from trl import RLOOTrainer

    def arguments(common: dict[str, Any]) -> Any:
        return TrlRlooConfig(**common, normalize_advantages=config.normalize_advantages)

    return _train_online(
        "rloo",
        RLOOTrainer,
        arguments,
        config=config,
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
        resume=resume,
    )


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def generation_backend(config: OnlineConfig, device: DeviceChoice) -> str:
    """ "vllm" or "transformers" for this run; asking for vLLM where it cannot run is a ConfigError."""
    usable = vllm_available() and device.is_cuda
    if config.generation_backend == "vllm" and not usable:
        raise ConfigError(
            "generation_backend 'vllm' needs the vllm package and a GPU; "
            "use 'auto' or 'transformers' to generate with transformers"
        )
    if config.generation_backend == "transformers" or not usable:
        return "transformers"
    return "vllm"


def online_arguments(
    config: OnlineConfig, device: DeviceChoice, checkpoint_dir: Path, *, backend: str
) -> dict[str, Any]:
    """TrainingArguments and the sampling fields GRPOConfig and RLOOConfig share."""
    common = hf_arguments(config, device, checkpoint_dir)
    # TRL's online configs have no max_length: the prompt is cut to fit by `prompt_records`, the completion by
    # max_completion_length.
    common.pop("max_length")
    return {
        **common,
        # TRL counts completions per device batch; our batch_size counts prompts.
        "per_device_train_batch_size": config.batch_size * config.num_generations,
        "num_generations": config.num_generations,
        "max_completion_length": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "use_vllm": backend == "vllm",
        "vllm_mode": "colocate",
        "disable_dropout": True,
        "log_completions": False,
    }


def prompt_records(
    rows: list[Row], tokenizer: Any, *, max_prompt_tokens: int
) -> tuple[list[dict[str, str]], int, int]:
    """The dataset TRL reads: `prompt` as the policy sees it (chat messages when the tokenizer has a chat
    template, else text cut to its last `max_prompt_tokens` tokens) and the original prompt, JSON-encoded, for
    the reward models. Returns (records, prompts cut, prompts dropped: chat prompts that do not fit)."""
    chat = bool(getattr(tokenizer, "chat_template", None))
    records, cut, dropped = [], 0, 0
    for row in rows:
        original = row["prompt"]
        if chat:
            messages = (
                [{"role": "user", "content": original}] if isinstance(original, str) else original
            )
            ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            if len(ids) > max_prompt_tokens:
                dropped += 1
                continue
            prompt: Any = messages
        else:
            prompt = prompt_as_text(original)
            ids = tokenizer(prompt)["input_ids"]
            if len(ids) > max_prompt_tokens:
                prompt = tokenizer.decode(ids[-max_prompt_tokens:], skip_special_tokens=True)
                cut += 1
        records.append({"prompt": prompt, CombinedReward.SOURCE_PROMPT: json.dumps(original)})
    return records, cut, dropped


def _train_online(
    objective: str,
    trainer_class: Any,
    make_arguments: Any,
    *,
    config: OnlineConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    from datasets import Dataset

    from trainer.models import lora_config

    run = policy_run_start(
        config=config,
        kind="prompts",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows = run.device, run.train_rows
    backend = generation_backend(config, device)
    # Loaded (and every checker name checked) before the policy, so a bad reward fails fast.
    reward = build_reward(config, device=str(device.device))
    model, tokenizer = load_policy(config, device)
    records, cut, dropped = prompt_records(
        train_rows, tokenizer, max_prompt_tokens=config.max_length - config.max_new_tokens
    )
    if cut or dropped:
        callbacks.on_log(
            f"{objective}: {cut} prompts cut to their last {config.max_length - config.max_new_tokens} "
            f"tokens, {dropped} chat prompts dropped as too long"
        )
    if not records:
        raise ConfigError("no prompt fits max_length - max_new_tokens")
    checkpoint_dir = run.checkpoint_dir
    args = make_arguments(online_arguments(config, device, checkpoint_dir, backend=backend))
    callbacks.on_log(
        f"{objective}: {len(records)} prompts x {config.num_generations} completions on "
        f"{device.describe()}, generation by {backend}; reward = "
        + " + ".join(f"{s.weight:g}*{s.name}" for s in reward.sources)
    )
    bridge = CallbackBridge(callbacks)
    hf_trainer = trainer_class(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=lora_config(config, task_type="CAUSAL_LM") if config.lora else None,
        callbacks=[bridge],
    )
    started = time.monotonic()
    status, history, step = run_hf_trainer(
        hf_trainer, bridge=bridge, checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks
    )
    runtime = time.monotonic() - started
    return finish_policy_run(
        run,
        objective=objective,
        status=status,
        model=hf_trainer.model,
        reference=None,
        tokenizer=tokenizer,
        history=history,
        step=step,
        runtime=runtime,
        # The win rate over the base is judged by the judge or, as for RAFT, by the first reward model.
        judge_dir=config.judge_reward_model or next(iter(config.reward_models), None),
        training_reward=lambda prompts, texts: reward.scores(prompts, texts)[0],
    )
