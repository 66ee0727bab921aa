"""Runs a reward objective: load data and model, train with our loop, evaluate, save."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from trainer.config import RewardConfig
from trainer.data import MIN_EVAL_ROWS, load_rows
from trainer.device import choose_device
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.loop import run_loop
from trainer.outputs import CHECKPOINT_SUBDIR, MODEL_SUBDIR, write_metrics
from trainer.reward.batching import (
    length_grouped_batches,
    pack_batch,
    pad_batch,
    score_encoded,
    shuffled_batches,
)
from trainer.reward.model import (
    RewardModel,
    build_reward_model,
    packing_matches_padding,
    save_reward_model,
)
from trainer.reward.tasks import Example, RewardTask


def train_reward_model(
    *,
    task_factory: type[RewardTask],
    config: RewardConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """Train the reward objective that `task_factory(config, tokenizer)` describes; see `trainer.train`.

    Inputs longer than max_length are truncated (and counted in the log), never dropped.
    """
    device = choose_device(config.device, num_threads=config.num_threads)
    objective_kind = task_factory.dataset_kind
    train_rows = load_rows(objective_kind, train_path)
    eval_rows = load_rows(objective_kind, eval_path, min_rows=MIN_EVAL_ROWS) if eval_path else []

    model, tokenizer = build_reward_model(config, num_outputs=task_factory.num_outputs)
    model.to(device.device)
    if device.gradient_checkpointing:
        # Non-reentrant: it needs no input that requires grad, so it works under LoRA's frozen embeddings.
        model.backbone.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    task = task_factory(config, tokenizer)
    train_examples = task.encode(train_rows)
    eval_examples = task.encode(eval_rows)
    _report_truncation(train_examples, config.max_length, callbacks)
    callbacks.on_log(
        f"{task.objective}: {len(train_examples)} training examples, {len(eval_examples)} held out; "
        f"{_trainable(model)} trainable parameters on {device.describe()}"
    )

    lengths = [example.length for example in train_examples]

    def make_batches(epoch: int) -> list[list[int]]:
        if config.length_grouping:
            return length_grouped_batches(lengths, config.batch_size, seed=config.seed, epoch=epoch)
        return shuffled_batches(len(lengths), config.batch_size, seed=config.seed, epoch=epoch)

    pad_id = tokenizer.pad_token_id
    probe = [s for example in train_examples[:4] for s in example.sequences]
    packing = config.packing and packing_matches_padding(model, probe, pad_token_id=pad_id)
    if config.packing and not packing:
        callbacks.on_log("packing is off: this backbone does not score packed rows as padded ones")

    def compute_loss(
        batch: list[int], prepared: torch.nn.Module
    ) -> tuple[torch.Tensor, dict[str, float]]:
        examples = [train_examples[i] for i in batch]
        sequences = [s for example in examples for s in example.sequences]
        if packing:
            scores = prepared(
                packed=pack_batch(sequences, pad_token_id=pad_id, device=device.device)
            )
        else:
            scores = prepared(**pad_batch(sequences, pad_token_id=pad_id, device=device.device))
        return task.loss(scores.float(), examples)

    started = time.monotonic()
    outcome = run_loop(
        model=model,
        make_batches=make_batches,
        compute_loss=compute_loss,
        config=config,
        device=device,
        checkpoint_dir=output_dir / CHECKPOINT_SUBDIR,
        callbacks=callbacks,
        resume=resume,
        # The largest micro-batch as padding makes it: every sequence of a batch at the longest length.
        peak_tokens=min(config.batch_size, len(train_examples))
        * max((len(e.sequences) for e in train_examples), default=1)
        * max((e.length for e in train_examples), default=config.max_length),
    )
    runtime = time.monotonic() - started
    if not outcome.main_process:
        # Under several processes the main one evaluates and writes; the others only trained.
        return TrainingResult(
            status=outcome.status, metrics={}, model_dir=output_dir / MODEL_SUBDIR, history=[]
        )

    finished = outcome.status == "succeeded"
    metrics: dict[str, float] = {}
    if finished and eval_examples:
        metrics.update(
            evaluate_examples(model, task, eval_examples, pad_token_id=pad_id, config=config)
        )
        callbacks.on_log(
            "held-out: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
        )
    elif not finished:
        metrics.update({f"train_{k}": v for k, v in outcome.last_metrics.items()})
    metrics["train_steps"] = float(outcome.step)
    metrics["train_runtime_seconds"] = runtime
    history = list(outcome.history)
    if finished and eval_examples:
        history.append({"step": outcome.step, "eval": dict(metrics)})

    model_dir = output_dir / MODEL_SUBDIR
    save_reward_model(
        model,
        tokenizer,
        model_dir,
        metadata={
            **task.metadata(train_rows),
            "max_length": config.max_length,
            "finished": finished,
        },
    )
    write_metrics(
        output_dir,
        objective=task.objective,
        status=outcome.status,
        metrics=metrics,
        history=history,
        config=config,
    )
    return TrainingResult(
        status=outcome.status, metrics=metrics, model_dir=model_dir, history=history
    )


def evaluate_examples(
    model: RewardModel,
    task: RewardTask,
    examples: list[Example],
    *,
    pad_token_id: int,
    config: RewardConfig,
) -> dict[str, float]:
    """Score every sequence of the held-out examples and let the task turn the scores into metrics."""
    device = next(model.parameters()).device
    sequences = [s for example in examples for s in example.sequences]
    scores = score_encoded(
        model,
        sequences,
        pad_token_id=pad_token_id,
        device=device,
        batch_size=config.eval_batch_size,
    )
    grouped, start = [], 0
    for example in examples:
        grouped.append(scores[start : start + len(example.sequences)])
        start += len(example.sequences)
    return task.evaluate(grouped, examples)


def _report_truncation(
    examples: list[Example], max_length: int, callbacks: TrainingCallbacks
) -> None:
    truncated = sum(any(s.truncated for s in example.sequences) for example in examples)
    if truncated:
        callbacks.on_log(
            f"{truncated} of {len(examples)} training examples were truncated to max_length={max_length} "
            "(kept, not dropped)"
        )


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
