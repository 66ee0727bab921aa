"""Runs a reward objective: load data and model, train with our loop, evaluate, save."""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from pathlib import Path

import torch

from trainer.config import RewardConfig
from trainer.data import MIN_EVAL_ROWS, load_rows
from trainer.device import DeviceChoice, choose_device
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.loop import LoopOutcome, run_loop
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
    use_unpadded_if_exact,
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

    Inputs longer than max_length lose prompt tokens from the left first; a response that alone is too long
    is cut at its end, or its training example dropped with `truncation="drop"`. Every case is counted in
    the log and the metrics (rows_prompt_truncated, rows_response_truncated, rows_dropped).
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
    fitting = _report_truncation(train_examples, config, callbacks)
    if config.truncation == "drop":
        train_examples = [train_examples[i] for i in fitting]
    input_counts = _truncation_counts(train_examples, dropped=len(train_rows) - len(train_examples))
    callbacks.on_log(
        f"{task.objective}: {len(train_examples)} training examples, {len(eval_examples)} held out; "
        f"{_trainable(model)} trainable parameters on {device.describe()}"
    )

    pad_id = tokenizer.pad_token_id
    started, cpu_started = time.monotonic(), time.process_time()
    if getattr(config, "ensemble_size", 0) >= 2 and hasattr(task, "apply_estimate"):
        gaps = cross_fitted_gaps(
            task_factory=task_factory,
            config=config,
            examples=train_examples,
            device=device,
            callbacks=callbacks,
        )
        task.apply_estimate(train_examples, gaps)
        likely_flipped = sum(gap < 0 for gap in gaps)
        callbacks.on_log(
            f"ensemble of {config.ensemble_size}: {likely_flipped} of {len(gaps)} training pairs look "
            "flipped (estimated P(label right) < 0.5) and are down-weighted"
        )
    outcome = fit(
        model=model,
        task=task,
        examples=train_examples,
        config=config,
        device=device,
        pad_token_id=pad_id,
        checkpoint_dir=output_dir / CHECKPOINT_SUBDIR,
        callbacks=callbacks,
        resume=resume,
    )
    runtime = time.monotonic() - started
    # CPU seconds of every thread of this process: what other work on a shared machine disturbs least.
    cpu_runtime = time.process_time() - cpu_started
    if not outcome.main_process:
        # Under several processes the main one evaluates and writes; the others only trained.
        return TrainingResult(
            status=outcome.status, metrics={}, model_dir=output_dir / MODEL_SUBDIR, history=[]
        )
    # The full trained weights: under FSDP/ZeRO-3 `model` itself holds only this process's shard.
    model = outcome.model if outcome.model is not None else model

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
    metrics["train_cpu_seconds"] = cpu_runtime
    metrics.update(input_counts)
    history = list(outcome.history)
    if finished and eval_examples:
        history.append({"step": outcome.step, "eval": dict(metrics)})
    calibration = None
    if finished and eval_examples and hasattr(task, "calibration"):
        calibration = task.calibration(
            score_examples(model, eval_examples, pad_token_id=pad_id, config=config)
        )

    model_dir = output_dir / MODEL_SUBDIR
    save_reward_model(
        model,
        tokenizer,
        model_dir,
        metadata={
            **task.metadata(train_rows),
            "max_length": config.max_length,
            "input_template": config.input_template,
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
        extra={"calibration": calibration} if calibration else None,
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
    return task.evaluate(
        score_examples(model, examples, pad_token_id=pad_token_id, config=config), examples
    )


def score_examples(
    model: RewardModel, examples: list[Example], *, pad_token_id: int, config: RewardConfig
) -> list[torch.Tensor]:
    """Each example's (len(sequences), num_outputs) scores, in example order."""
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
    return grouped


def fit(
    *,
    model: RewardModel,
    task: RewardTask,
    examples: list[Example],
    config: RewardConfig,
    device: DeviceChoice,
    pad_token_id: int,
    checkpoint_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> LoopOutcome:
    """Train `model` on `examples` with our loop: length-grouped batches, packed where that is exact."""
    lengths = [example.length for example in examples]

    def make_batches(epoch: int) -> list[list[int]]:
        if config.length_grouping:
            return length_grouped_batches(lengths, config.batch_size, seed=config.seed, epoch=epoch)
        return shuffled_batches(len(lengths), config.batch_size, seed=config.seed, epoch=epoch)

    probe = [s for example in examples[:4] for s in example.sequences]
    packing = config.packing and packing_matches_padding(model, probe, pad_token_id=pad_token_id)
    if config.packing and not packing:
        callbacks.on_log("packing is off: this backbone does not score packed rows as padded ones")
    # Gradient checkpointing wraps the stock layers, which the unpadded pass does not call.
    unpadded = (
        packing
        and not device.gradient_checkpointing
        and use_unpadded_if_exact(model, probe, pad_token_id=pad_token_id)
    )
    if unpadded:
        callbacks.on_log(
            "unpadded pass: linear layers skip padding; the last layer computes first tokens only"
        )

    def compute_loss(
        batch: list[int], prepared: torch.nn.Module
    ) -> tuple[torch.Tensor, dict[str, float]]:
        chunk = [examples[i] for i in batch]
        sequences = [s for example in chunk for s in example.sequences]
        if packing:
            scores = prepared(
                packed=pack_batch(sequences, pad_token_id=pad_token_id, device=device.device)
            )
        else:
            scores = prepared(
                **pad_batch(sequences, pad_token_id=pad_token_id, device=device.device)
            )
        return task.loss(scores.float(), chunk)

    return run_loop(
        model=model,
        make_batches=make_batches,
        compute_loss=compute_loss,
        config=config,
        device=device,
        checkpoint_dir=checkpoint_dir,
        callbacks=callbacks,
        resume=resume,
        # The largest micro-batch as padding makes it: every sequence of a batch at the longest length.
        peak_tokens=min(config.batch_size, len(examples))
        * max((len(e.sequences) for e in examples), default=1)
        * max((e.length for e in examples), default=config.max_length),
    )


def cross_fitted_gaps(
    *,
    task_factory: type[RewardTask],
    config: RewardConfig,
    examples: list[Example],
    device: DeviceChoice,
    callbacks: TrainingCallbacks,
) -> list[float]:
    """Each training pair's estimated preference strength r_c - r_r, from a model that never saw it.

    The pairs are split into `ensemble_size` folds; fold k's gaps come from a model trained (with the run's
    config, a seed of its own, no checkpoints) on the other folds. The mean over such models is the
    ensemble estimate of Secrets of RLHF II, cross-fitted so no pair judges itself.
    """
    folds = config.ensemble_size
    order = list(range(len(examples)))
    random.Random(config.seed).shuffle(order)
    gaps = [0.0] * len(examples)
    quiet = TrainingCallbacks(should_stop=callbacks.should_stop, on_log=callbacks.on_log)
    for fold in range(folds):
        held = order[fold::folds]
        held_set = set(held)
        fold_config = dataclasses.replace(
            config, seed=config.seed + 1 + fold, ensemble_size=0, adaptive_margin=0.0, save_steps=0
        )
        model, tokenizer = build_reward_model(fold_config, num_outputs=task_factory.num_outputs)
        model.to(device.device)
        task = task_factory(fold_config, tokenizer)
        with tempfile.TemporaryDirectory() as scratch:
            fit(
                model=model,
                task=task,
                examples=[examples[i] for i in order if i not in held_set],
                config=fold_config,
                device=device,
                pad_token_id=tokenizer.pad_token_id,
                checkpoint_dir=Path(scratch),
                callbacks=quiet,
                resume=False,
            )
        scores = score_examples(
            model, [examples[i] for i in held], pad_token_id=tokenizer.pad_token_id, config=config
        )
        for index, pair in zip(held, scores, strict=True):
            gaps[index] = float(pair[0, 0] - pair[1, 0])
        callbacks.on_log(f"ensemble model {fold + 1} of {folds} scored {len(held)} held-back pairs")
    return gaps


def _report_truncation(
    examples: list[Example], config: RewardConfig, callbacks: TrainingCallbacks
) -> list[int]:
    """Log what max_length cut; return the indices of the examples whose responses fit whole."""
    truncated = sum(any(s.truncated for s in example.sequences) for example in examples)
    fitting = [
        i
        for i, example in enumerate(examples)
        if not any(s.response_truncated for s in example.sequences)
    ]
    cut_responses = len(examples) - len(fitting)
    if truncated:
        what = (
            f"{cut_responses} with a response longer than max_length were dropped"
            if config.truncation == "drop"
            else f"{cut_responses} of them had a response cut at its end"
        )
        callbacks.on_log(
            f"{truncated} of {len(examples)} training examples were truncated to "
            f"max_length={config.max_length} (prompts from the left first); {what}"
        )
    return fitting


def _truncation_counts(examples: list[Example], *, dropped: int) -> dict[str, float]:
    return {
        "rows_prompt_truncated": float(
            sum(any(s.prompt_truncated for s in e.sequences) for e in examples)
        ),
        "rows_response_truncated": float(
            sum(any(s.response_truncated for s in e.sequences) for e in examples)
        ),
        "rows_dropped": float(dropped),
    }


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
