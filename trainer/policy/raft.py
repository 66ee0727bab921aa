"""raft: reward-ranked fine-tuning. Sample N completions per prompt from the policy, keep the one a trained
reward model scores highest, and fine-tune the policy on those (negative log-likelihood of the completion
tokens, prompt tokens masked), with our loop.

The kept samples are written to output_dir/raft_samples.jsonl; a resumed run trains on that file instead of
sampling again, so it continues on exactly the data it started with.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from trainer.config import RaftConfig
from trainer.data import Row
from trainer.device import DeviceChoice
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.loop import run_loop
from trainer.metrics import mean
from trainer.models import apply_lora
from trainer.policy.common import (
    encode_completion,
    load_policy,
    pad_completions,
    render_prompt,
    token_logps,
)
from trainer.policy.evaluate import sample_completions
from trainer.policy.finish import finish_policy_run
from trainer.policy.run import policy_run_start
from trainer.reward.batching import shuffled_batches
from trainer.scoring import load_reward_model

SAMPLES_FILE = "raft_samples.jsonl"


def train_raft(
    *,
    config: RaftConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """One RAFT round; held-out metrics: KL to the base and the win rate over the base, judged by
    `judge_reward_model` or, when none is given, by the ranking reward model itself (optimistic)."""
    run = policy_run_start(
        config=config,
        kind="prompts",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows = run.device, run.train_rows
    assert config.reward_model is not None  # checked by RaftConfig
    scorer = load_reward_model(config.reward_model, device=str(device.device))
    model, tokenizer = load_policy(config, device)

    samples_path = output_dir / SAMPLES_FILE
    if resume and samples_path.is_file():
        best = [
            json.loads(line)
            for line in samples_path.read_text(encoding="utf-8").splitlines()
            if line
        ]
        callbacks.on_log(f"raft: reusing {len(best)} ranked samples from {SAMPLES_FILE}")
    else:
        best = _best_of_n(
            model, tokenizer, scorer, train_rows, config=config, device=device, callbacks=callbacks
        )
        samples_path.write_text("".join(json.dumps(row) + "\n" for row in best), encoding="utf-8")
    sample_metrics = {
        "raft_best_reward": mean([row["reward"] for row in best]),
        "raft_sample_reward": mean([r for row in best for r in row["all_rewards"]]),
    }
    callbacks.on_log(
        f"raft: best-of-{config.num_samples} reward {sample_metrics['raft_best_reward']:.4f} "
        f"vs {sample_metrics['raft_sample_reward']:.4f} per sample"
    )

    examples = [
        encode_completion(
            tokenizer,
            render_prompt(row["prompt"], tokenizer),
            row["completion"],
            max_length=config.max_length,
        )
        for row in best
    ]
    if config.lora:
        model = apply_lora(model, config, task_type="CAUSAL_LM")
    if device.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    pad_id = tokenizer.pad_token_id

    def make_batches(epoch: int) -> list[list[int]]:
        return shuffled_batches(len(examples), config.batch_size, seed=config.seed, epoch=epoch)

    def compute_loss(
        batch: list[int], prepared: torch.nn.Module
    ) -> tuple[torch.Tensor, dict[str, float]]:
        inputs = pad_completions(
            [examples[i] for i in batch], pad_token_id=pad_id, device=device.device
        )
        logps = token_logps(prepared, inputs["input_ids"], inputs["attention_mask"])
        mask = inputs["completion_mask"].to(logps.dtype)
        return -(logps * mask).sum() / mask.sum().clamp(min=1.0), {}

    started = time.monotonic()
    outcome = run_loop(
        model=model,
        make_batches=make_batches,
        compute_loss=compute_loss,
        config=config,
        device=device,
        checkpoint_dir=run.checkpoint_dir,
        callbacks=callbacks,
        resume=resume,
        peak_tokens=min(config.batch_size, len(examples))
        * max((len(example.input_ids) for example in examples), default=1),
        # The reward model stays loaded for the held-out reward-hacking watch.
        frozen_parameters=sum(p.numel() for p in scorer.model.parameters()),
    )
    runtime = time.monotonic() - started
    return finish_policy_run(
        run,
        objective="raft",
        status=outcome.status,
        # Under FSDP/ZeRO-3 `model` holds a shard; the loop gathered the full weights into outcome.model.
        model=outcome.model if outcome.model is not None else model,
        reference=None,
        tokenizer=tokenizer,
        history=outcome.history,
        step=outcome.step,
        runtime=runtime,
        judge_dir=config.judge_reward_model or config.reward_model,
        extra_metrics=sample_metrics,
        training_reward=scorer.score,
    )


def _best_of_n(
    model: torch.nn.Module,
    tokenizer,
    scorer,
    rows: list[Row],
    *,
    config: RaftConfig,
    device: DeviceChoice,
    callbacks: TrainingCallbacks,
) -> list[dict]:
    """For each prompt, the highest-scoring of `num_samples` sampled completions, with every sample's reward."""
    prompts = [row["prompt"] for row in rows]
    callbacks.on_log(
        f"raft: sampling {config.num_samples} completions for each of {len(prompts)} prompts"
    )
    draws = sample_completions(
        model,
        tokenizer,
        prompts,
        max_new_tokens=config.max_new_tokens,
        batch_size=config.eval_batch_size,
        seed=config.seed,
        device=device,
        max_prompt_tokens=max(1, config.max_length - config.max_new_tokens),
        temperature=config.temperature,
        top_p=config.top_p,
        num_samples=config.num_samples,
    )
    rewards = [scorer.score(prompts, draw.texts) for draw in draws]
    best = []
    for index, prompt in enumerate(prompts):
        candidates = [(rewards[d][index], draws[d].texts[index]) for d in range(len(draws))]
        reward, text = max(candidates, key=lambda candidate: candidate[0])
        best.append(
            {
                "prompt": prompt,
                "completion": text,
                "reward": reward,
                "all_rewards": [c[0] for c in candidates],
            }
        )
    return best
