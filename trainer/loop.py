"""The training loop our own objectives share: steps, cancel, progress, checkpoints and resume.

TRL's trainers have their own loop (see `trainer.policy.hf_bridge`); this one drives the encoder reward models,
LiPO and RAFT's fine-tuning. It owns no model or data knowledge: the caller supplies a function that returns
the epoch's batches and one that turns a batch into a loss.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from trainer.config import BaseConfig
from trainer.device import DeviceChoice
from trainer.events import ProgressEvent, Status, TrainingCallbacks

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "state.pt"


@dataclass
class LoopOutcome:
    """How the loop ended: `step` is the last optimizer step done, `history` one dict per step."""

    status: Status
    step: int
    total_steps: int
    history: list[dict[str, Any]] = field(default_factory=list)
    last_metrics: dict[str, float] = field(default_factory=dict)


def plan_total_steps(*, batches_per_epoch: int, config: BaseConfig) -> tuple[int, int]:
    """Return (optimizer steps per epoch, total optimizer steps) for this config."""
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / config.gradient_accumulation_steps))
    total = steps_per_epoch * config.num_epochs
    if config.max_steps is not None:
        total = config.max_steps
    return steps_per_epoch, total


def run_loop(
    *,
    model: nn.Module,
    make_batches: Callable[[int], Sequence[Any]],
    compute_loss: Callable[[Any], tuple[torch.Tensor, dict[str, float]]],
    config: BaseConfig,
    device: DeviceChoice,
    checkpoint_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> LoopOutcome:
    """Train `model` until the planned steps are done or `callbacks.should_stop()` returns True.

    `make_batches(epoch)` must return the same batches for the same epoch every time it is called (so a resumed
    run sees the data a finished run would have); `compute_loss(batch)` returns the micro-batch loss and extra
    numbers to report. Only parameters with `requires_grad` are optimised and checkpointed.
    With `resume=True` the newest checkpoint under `checkpoint_dir` (if any) restores weights, optimizer,
    schedule and RNG, and training continues at the step after it. A cancel writes a checkpoint first.
    """
    batches = make_batches(0)
    steps_per_epoch, total_steps = plan_total_steps(batches_per_epoch=len(batches), config=config)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = _make_optimizer(parameters, config=config, device=device)
    scheduler = get_linear_schedule_with_warmup(
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    history: list[dict[str, Any]] = []
    start_step = 0
    if resume:
        checkpoint = latest_checkpoint(checkpoint_dir)
        if checkpoint is not None:
            start_step, history = _load_checkpoint(
                checkpoint, model=model, optimizer=optimizer, scheduler=scheduler
            )
            callbacks.on_log(
                f"resuming from {checkpoint.name} at step {start_step} of {total_steps}"
            )
    else:
        torch.manual_seed(config.seed)
        random.seed(config.seed)

    model.train()
    step = start_step
    started = time.monotonic()
    last_metrics: dict[str, float] = {}
    accumulation = config.gradient_accumulation_steps
    while step < total_steps:
        epoch = step // steps_per_epoch
        epoch_batches = batches if epoch == 0 else make_batches(epoch)
        step_in_epoch = step - epoch * steps_per_epoch
        # Wrap around when max_steps asks for more steps than the epochs hold.
        first = (step_in_epoch * accumulation) % len(epoch_batches)
        micro_batches = [
            epoch_batches[(first + k) % len(epoch_batches)] for k in range(accumulation)
        ]
        loss_value, metrics = _optimizer_step(
            micro_batches,
            compute_loss=compute_loss,
            parameters=parameters,
            optimizer=optimizer,
            scheduler=scheduler,
            config=config,
            device=device,
        )
        step += 1
        metrics["learning_rate"] = scheduler.get_last_lr()[0]
        epoch_progress = epoch + (step_in_epoch + 1) / steps_per_epoch
        record = {"step": step, "epoch": round(epoch_progress, 4), "loss": loss_value, **metrics}
        history.append(record)
        last_metrics = {"loss": loss_value, **metrics}
        elapsed = time.monotonic() - started
        eta = elapsed / (step - start_step) * (total_steps - step)
        callbacks.on_progress(
            ProgressEvent(
                step=step,
                total_steps=total_steps,
                epoch=epoch_progress,
                loss=loss_value,
                metrics=dict(metrics),
                eta_seconds=eta,
            )
        )
        # A stop request on the last step changes nothing: the run is complete.
        if step < total_steps and callbacks.should_stop():
            path = save_checkpoint(
                checkpoint_dir,
                step=step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                history=history,
            )
            _prune(checkpoint_dir, keep=config.save_total_limit)
            callbacks.on_log(
                f"stopped on request at step {step}; checkpoint {path.name} can resume"
            )
            return LoopOutcome("cancelled", step, total_steps, history, last_metrics)
        if config.save_steps and step % config.save_steps == 0 and step < total_steps:
            save_checkpoint(
                checkpoint_dir,
                step=step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                history=history,
            )
            _prune(checkpoint_dir, keep=config.save_total_limit)
            callbacks.on_log(f"checkpoint at step {step}")
    model.eval()
    return LoopOutcome("succeeded", step, total_steps, history, last_metrics)


def _optimizer_step(
    micro_batches: Sequence[Any],
    *,
    compute_loss: Callable[[Any], tuple[torch.Tensor, dict[str, float]]],
    parameters: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: BaseConfig,
    device: DeviceChoice,
) -> tuple[float, dict[str, float]]:
    total_loss = 0.0
    sums: dict[str, float] = {}
    for batch in micro_batches:
        with device.autocast():
            loss, metrics = compute_loss(batch)
        (loss / len(micro_batches)).backward()
        total_loss += loss.item()
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + value
    count = len(micro_batches)
    averages = {key: value / count for key, value in sums.items()}
    if config.max_grad_norm > 0:
        averages["grad_norm"] = float(
            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
        )
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total_loss / count, averages


def _make_optimizer(
    parameters: list[nn.Parameter], *, config: BaseConfig, device: DeviceChoice
) -> torch.optim.Optimizer:
    # Decay matrices only; biases and norm gains are left alone, as in nanoGPT and HF's Trainer.
    groups = [
        {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
    ]
    # The fused kernel does the whole update in one pass: ~20x faster than the for-loop one on a CPU.
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The checkpoint directory with the highest step that has a complete state file, or None."""
    if not checkpoint_dir.is_dir():
        return None
    candidates = [
        path
        for path in checkpoint_dir.iterdir()
        if path.name.startswith(CHECKPOINT_PREFIX)
        and path.name[len(CHECKPOINT_PREFIX) :].isdigit()
        and (path / STATE_FILE).is_file()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX) :]))


def save_checkpoint(
    checkpoint_dir: Path,
    *,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: list[dict[str, Any]],
) -> Path:
    """Write trainable weights, optimizer, schedule, RNG and history for `step`; return the directory.

    The state file is written under a temporary name and renamed, so a crash never leaves a half checkpoint
    that `latest_checkpoint` would pick.
    """
    path = checkpoint_dir / f"{CHECKPOINT_PREFIX}{step}"
    path.mkdir(parents=True, exist_ok=True)
    trainable = {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}
    state = {
        "step": step,
        "model": trainable,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": history,
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    temporary = path / (STATE_FILE + ".tmp")
    torch.save(state, temporary)
    temporary.replace(path / STATE_FILE)
    return path


def _load_checkpoint(
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[int, list[dict[str, Any]]]:
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    parameters = dict(model.named_parameters())
    missing = [name for name in state["model"] if name not in parameters]
    if missing:
        raise RuntimeError(
            f"checkpoint {path} does not match the model (unknown weights {missing[:3]})"
        )
    with torch.no_grad():
        for name, value in state["model"].items():
            parameters[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["python_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), list(state["history"])


def _prune(checkpoint_dir: Path, *, keep: int) -> None:
    checkpoints = sorted(
        (p for p in checkpoint_dir.iterdir() if p.name.startswith(CHECKPOINT_PREFIX)),
        key=lambda p: (
            int(p.name[len(CHECKPOINT_PREFIX) :])
            if p.name[len(CHECKPOINT_PREFIX) :].isdigit()
            else -1
        ),
    )
    for stale in checkpoints[:-keep]:
        shutil.rmtree(stale, ignore_errors=True)
