"""kto: TRL's KTOTrainer on unpaired (prompt, completion, label) data."""

from __future__ import annotations

import random
from pathlib import Path

from trainer.config import KtoConfig
from trainer.errors import ConfigError
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.metrics import auroc
from trainer.policy.common import join_completion, load_policy, render_prompt
from trainer.policy.evaluate import implicit_rewards
from trainer.policy.finish import finish_policy_run
from trainer.policy.hf_bridge import (
    hf_arguments,
    per_process_batch_size,
    train_with_trl,
    world_size,
)
from trainer.policy.run import policy_run_start


def train_kto(
    *,
    config: KtoConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """Train a policy with KTO; held-out metrics: AUROC of the implicit reward against the labels, KL, win rate."""
    from trl import KTOConfig as TrlKtoConfig
    from trl import KTOTrainer

    if per_process_batch_size(config.batch_size) < 2:
        raise ConfigError(
            f"KTO pairs each row with a neighbour in its process's batch: batch_size {config.batch_size} "
            f"over {world_size()} processes leaves fewer than 2 per process; use batch_size >= "
            f"{2 * world_size()}"
        )
    run = policy_run_start(
        config=config,
        kind="unpaired_binary",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows, eval_rows = run.device, run.train_rows, run.eval_rows
    labels = {row["label"] for row in train_rows}
    if len(labels) < 2:
        callbacks.on_log(
            "warning: every training row has the same label; KTO learns little from one class"
        )
    model, tokenizer = load_policy(config, device)
    reference = None if config.lora else load_policy(config, device)[0]
    # KTOTrainer reads batches in file order and pairs each row with its neighbour for the KL term, so the
    # rows are shuffled here (seeded) or a file sorted by prompt or label would bias that estimate.
    rows = list(train_rows)
    random.Random(config.seed).shuffle(rows)
    records = []
    for row in rows:
        prompt = render_prompt(row["prompt"], tokenizer)
        records.append(
            {
                "prompt": prompt,
                "completion": join_completion(prompt, row["completion"]),
                "label": row["label"],
            }
        )
    checkpoint_dir = run.checkpoint_dir
    args = TrlKtoConfig(
        **hf_arguments(config, device, checkpoint_dir),
        desirable_weight=config.desirable_weight,
        undesirable_weight=config.undesirable_weight,
    )
    callbacks.on_log(f"kto: {len(records)} rows on {device.describe()}")
    hf_trainer, status, history, step, runtime = train_with_trl(
        KTOTrainer,
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
        text_keys=("completion",),
        # KTO also scores each completion against a mismatched prompt for its KL term.
        sequences_per_record=2,
        unit="rows",
    )

    def objective_metrics(policy, base) -> dict[str, float]:
        rewards = implicit_rewards(
            policy,
            base,
            tokenizer,
            [(r["prompt"], r["completion"]) for r in eval_rows],
            config=config,
            device=device,
        )
        area = auroc(rewards, [r["label"] for r in eval_rows])
        return {"auroc": area} if area is not None else {}

    return finish_policy_run(
        run,
        objective="kto",
        status=status,
        model=hf_trainer.model,
        reference=reference,
        tokenizer=tokenizer,
        history=history,
        step=step,
        runtime=runtime,
        objective_metrics=objective_metrics,
    )
