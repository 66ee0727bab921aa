"""dpo: TRL's DPOTrainer on pairwise data (loss variants sigmoid, ipo, hinge, robust)."""

from __future__ import annotations

import time
from pathlib import Path

from datasets import Dataset

from trainer.config import DpoConfig
from trainer.data import MIN_EVAL_ROWS, load_rows
from trainer.device import choose_device
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.metrics import pairwise_accuracy
from trainer.models import lora_config
from trainer.outputs import CHECKPOINT_SUBDIR
from trainer.policy.common import join_completion, load_policy, render_prompt
from trainer.policy.evaluate import implicit_rewards
from trainer.policy.finish import finish_policy_run
from trainer.policy.hf_bridge import CallbackBridge, hf_arguments, run_hf_trainer


def train_dpo(
    *,
    config: DpoConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """Train a policy with DPO; held-out metrics: implicit-reward pairwise accuracy, KL, win rate (with judge)."""
    from trl import DPOConfig as TrlDpoConfig
    from trl import DPOTrainer

    device = choose_device(
        config.device,
        num_threads=config.num_threads,
        gradient_checkpointing=config.gradient_checkpointing,
    )
    train_rows = load_rows("pairwise", train_path)
    eval_rows = load_rows("pairwise", eval_path, min_rows=MIN_EVAL_ROWS) if eval_path else []
    model, tokenizer = load_policy(config, device)
    # With LoRA the reference is the base with adapters switched off; otherwise a frozen copy.
    reference = None if config.lora else load_policy(config, device)[0]
    records = []
    for row in train_rows:
        prompt = render_prompt(row["prompt"], tokenizer)
        records.append(
            {
                "prompt": prompt,
                "chosen": join_completion(prompt, row["chosen"]),
                "rejected": join_completion(prompt, row["rejected"]),
            }
        )
    checkpoint_dir = output_dir / CHECKPOINT_SUBDIR
    args = TrlDpoConfig(
        **hf_arguments(config, device, checkpoint_dir),
        loss_type=list(config.loss_type),
        label_smoothing=config.label_smoothing,
    )
    bridge = CallbackBridge(callbacks)
    callbacks.on_log(
        f"dpo ({'+'.join(config.loss_type)}): {len(records)} pairs on {device.describe()}"
    )
    hf_trainer = DPOTrainer(
        model=model,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=lora_config(config, task_type="CAUSAL_LM") if config.lora else None,
        callbacks=[bridge],
    )
    dropped = len(records) - len(hf_trainer.train_dataset)
    if dropped:
        # TRL truncates long sequences but drops rows whose prompt alone fills max_length.
        callbacks.on_log(
            f"{dropped} of {len(records)} pairs dropped by TRL: prompt longer than max_length"
        )
    started = time.monotonic()
    status, history, step = run_hf_trainer(
        hf_trainer, bridge=bridge, checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks
    )
    runtime = time.monotonic() - started

    def objective_metrics(policy, base) -> dict[str, float]:
        chosen = implicit_rewards(
            policy,
            base,
            tokenizer,
            [(r["prompt"], r["chosen"]) for r in eval_rows],
            config=config,
            device=device,
        )
        rejected = implicit_rewards(
            policy,
            base,
            tokenizer,
            [(r["prompt"], r["rejected"]) for r in eval_rows],
            config=config,
            device=device,
        )
        return {"pairwise_accuracy": pairwise_accuracy(chosen, rejected)}

    return finish_policy_run(
        objective="dpo",
        status=status,
        model=hf_trainer.model,
        reference=reference,
        tokenizer=tokenizer,
        config=config,
        device=device,
        eval_rows=eval_rows,
        history=history,
        step=step,
        runtime=runtime,
        output_dir=output_dir,
        callbacks=callbacks,
        objective_metrics=objective_metrics,
    )
