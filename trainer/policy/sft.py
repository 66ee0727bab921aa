"""sft: TRL's SFTTrainer (LoRA by default) on (prompt, completion) rows: demonstrations and rewrites."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from trainer.config import SftConfig
from trainer.data import Row
from trainer.device import DeviceChoice
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.policy.common import (
    encode_completion,
    join_completion,
    load_policy,
    pad_completions,
    render_prompt,
    token_logps,
)
from trainer.policy.finish import finish_policy_run
from trainer.policy.hf_bridge import CallbackBridge, hf_arguments, run_hf_trainer
from trainer.policy.run import policy_run_start


def completion_nll(
    model: torch.nn.Module,
    tokenizer,
    rows: list[Row],
    *,
    config: SftConfig,
    device: DeviceChoice,
) -> float:
    """Mean negative log-likelihood per completion token (EOS included) of the rows' completions
    given their prompts: lower means the model writes more like the annotators."""
    total, tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), config.eval_batch_size):
            items = []
            for row in rows[start : start + config.eval_batch_size]:
                prompt = render_prompt(row["prompt"], tokenizer)
                items.append(
                    encode_completion(
                        tokenizer, prompt, row["completion"], max_length=config.max_length
                    )
                )
            batch = pad_completions(
                items, pad_token_id=tokenizer.pad_token_id, device=device.device
            )
            logps = token_logps(model, batch["input_ids"], batch["attention_mask"])
            mask = batch["completion_mask"]
            total -= float((logps * mask).sum())
            tokens += int(mask.sum())
    return total / tokens if tokens else math.nan


def train_sft(
    *,
    config: SftConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """Fine-tune a policy on written answers; held-out metrics: completion NLL per token (policy and
    base), KL and win rate (with a judging reward model)."""
    from datasets import Dataset
    from trl import SFTConfig as TrlSftConfig
    from trl import SFTTrainer

    from trainer.models import lora_config

    run = policy_run_start(
        config=config,
        kind="sft",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows, eval_rows = run.device, run.train_rows, run.eval_rows
    model, tokenizer = load_policy(config, device)
    records = []
    for row in train_rows:
        # The prompt is rendered here (chat template when the tokenizer has one), as for DPO, so
        # what SFT trains on is exactly what the policy is later asked to continue.
        prompt = render_prompt(row["prompt"], tokenizer)
        records.append({"prompt": prompt, "completion": join_completion(prompt, row["completion"])})
    checkpoint_dir = run.checkpoint_dir
    arguments = hf_arguments(config, device, checkpoint_dir)
    arguments.pop("beta")  # no reference model in SFT
    args = TrlSftConfig(
        **arguments,
        completion_only_loss=config.completion_only_loss,
        packing=False,
    )
    callbacks.on_log(
        f"sft{' (LoRA)' if config.lora else ''}: {len(records)} rows on {device.describe()}"
    )
    bridge = CallbackBridge(callbacks)
    hf_trainer = SFTTrainer(
        model=model,
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

    def objective_metrics(policy, base) -> dict[str, float]:
        return {
            "completion_nll": completion_nll(
                policy, tokenizer, eval_rows, config=config, device=device
            ),
            "base_completion_nll": completion_nll(
                base, tokenizer, eval_rows, config=config, device=device
            ),
        }

    return finish_policy_run(
        run,
        objective="sft",
        status=status,
        model=hf_trainer.model,
        reference=None,
        tokenizer=tokenizer,
        history=history,
        step=step,
        runtime=runtime,
        objective_metrics=objective_metrics,
    )
