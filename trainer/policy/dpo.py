"""dpo: TRL's DPOTrainer on pairwise data (loss variants sigmoid, ipo, hinge, robust)."""

from __future__ import annotations

from pathlib import Path

from trainer.config import DpoConfig
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.metrics import pairwise_accuracy
from trainer.policy.common import join_completion, load_policy, render_prompt
from trainer.policy.evaluate import implicit_rewards
from trainer.policy.finish import finish_policy_run
from trainer.policy.hf_bridge import hf_arguments, train_with_trl
from trainer.policy.run import policy_run_start


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

    run = policy_run_start(
        config=config,
        kind="pairwise",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows, eval_rows = run.device, run.train_rows, run.eval_rows
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
    checkpoint_dir = run.checkpoint_dir
    args = TrlDpoConfig(
        **hf_arguments(config, device, checkpoint_dir),
        loss_type=list(config.loss_type),
        label_smoothing=config.label_smoothing,
    )
    callbacks.on_log(
        f"dpo ({'+'.join(config.loss_type)}): {len(records)} pairs on {device.describe()}"
    )
    hf_trainer, status, history, step, runtime = train_with_trl(
        DPOTrainer,
        model=model,
        reference=reference,
        args=args,
        records=records,
        tokenizer=tokenizer,
        config=config,
        device=device,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        callbacks=callbacks,
        text_keys=("chosen", "rejected"),
        sequences_per_record=2,
        unit="pairs",
    )

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
        run,
        objective="dpo",
        status=status,
        model=hf_trainer.model,
        reference=reference,
        tokenizer=tokenizer,
        history=history,
        step=step,
        runtime=runtime,
        objective_metrics=objective_metrics,
    )
