"""The training loop our own objectives share: steps, cancel, progress, checkpoints and resume, on accelerate.

TRL's trainers have their own loop (see `trainer.policy.hf_bridge`); this one drives the reward models, LiPO
and RAFT's fine-tuning. It owns no model or data knowledge: the caller supplies a function that returns the
epoch's batches and one that turns a batch into a loss.

One process or several: `accelerate.Accelerator` prepares the model (DDP, or FSDP / DeepSpeed when the run is
started by `accelerate launch --config_file ...`) and the optimizer. `config.batch_size` is the global batch:
each of the N processes takes every N-th item of each batch, and its loss is weighted by its share, so N
processes follow the loss curve of one process with the same config. Gradient accumulation skips the gradient
all-reduce on all but the last micro-batch (`no_sync`). Metrics are summed across processes; only the main
process reports progress and writes files. Checkpoints are accelerate's state (every process's shard and RNG)
plus a small state file the main process writes last.

The trained weights the caller saves are `LoopOutcome.model`: the caller's own module on one process or under
DDP (every process holds all of it), and under FSDP or DeepSpeed ZeRO-3, where the caller's module holds only
this process's shard, a copy of it with the full weights that `accelerator.get_state_dict` gathered (a
collective every process joins; only the main process keeps the result).
"""

from __future__ import annotations

import copy
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from trainer.config import BaseConfig
from trainer.device import DeviceChoice
from trainer.events import ProgressEvent, Status, TrainingCallbacks
from trainer.memory import check_training_fits, out_of_memory_error

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "state.pt"

# compute_loss(batch, model): `model` is the prepared module (a DDP/FSDP wrapper when distributed); the
# forward pass must go through it so that gradients are synchronised.
ComputeLoss = Callable[[Any, nn.Module], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class LoopOutcome:
    """How the loop ended: `step` is the last optimizer step done, `history` one dict per step.

    `main_process` is False on every process but the one that writes the run's files. `model` is the module
    with the full trained weights to evaluate and save (on the main process; None elsewhere).
    """

    status: Status
    step: int
    total_steps: int
    history: list[dict[str, Any]] = field(default_factory=list)
    last_metrics: dict[str, float] = field(default_factory=dict)
    main_process: bool = True
    model: nn.Module | None = None


def plan_total_steps(*, batches_per_epoch: int, config: BaseConfig) -> tuple[int, int]:
    """Return (optimizer steps per epoch, total optimizer steps) for this config."""
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / config.gradient_accumulation_steps))
    total = steps_per_epoch * config.num_epochs
    if config.max_steps is not None:
        total = config.max_steps
    return steps_per_epoch, total


def make_accelerator(device: DeviceChoice) -> Any:
    """The run's Accelerator: CPU (gloo) or CUDA (nccl) as `device` says; precision stays with our autocast.

    `find_unused_parameters` because a reward backbone's pooler (or a frozen-in-part model) may leave some
    trainable parameters without a gradient in a step, which plain DDP refuses.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs

    return Accelerator(
        cpu=not device.is_cuda,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def shard_of_batch(batch: Any, *, rank: int, world: int) -> tuple[Any, float]:
    """This process's part of a global batch and the weight of its mean loss (its share times `world`).

    A list batch is dealt round-robin; a process left with nothing (a batch smaller than `world`) repeats the
    batch's first item at weight 0, so every process still runs forward and backward (DDP needs that).
    Anything that is not a list is trained whole by every process.
    """
    if world == 1 or not isinstance(batch, list) or not batch:
        return batch, 1.0
    shard = batch[rank::world]
    if not shard:
        return batch[:1], 0.0
    return shard, len(shard) * world / len(batch)


def run_loop(
    *,
    model: nn.Module,
    make_batches: Callable[[int], Sequence[Any]],
    compute_loss: ComputeLoss,
    config: BaseConfig,
    device: DeviceChoice,
    checkpoint_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
    peak_tokens: int | None = None,
    frozen_parameters: int = 0,
) -> LoopOutcome:
    """Train `model` until the planned steps are done or `callbacks.should_stop()` returns True on any process.

    `make_batches(epoch)` must return the same batches for the same epoch every time it is called, on every
    process (so a resumed run sees the data a finished run would have); `compute_loss(batch, model)` returns
    the mean loss over the items of `batch` and extra numbers to report. Only parameters with `requires_grad`
    are optimised. With `resume=True` the newest checkpoint under `checkpoint_dir` (if any) restores weights,
    optimizer, schedule and RNG, and training continues at the step after it. A cancel writes a checkpoint
    first. After the loop `model` (the caller's module) holds the trained weights on every process (DDP).
    `peak_tokens`, the padded token count of the largest global micro-batch, turns on the memory preflight:
    a run that would not fit is refused before its first step (InsufficientMemoryError), and an
    out-of-memory error during a step fails the run with the same kind of error. `frozen_parameters` counts
    models the caller holds alongside without training them (RAFT's reward model).
    """
    accelerator = make_accelerator(device)
    rank, world = accelerator.process_index, accelerator.num_processes
    main = accelerator.is_main_process
    batches = make_batches(0)
    steps_per_epoch, total_steps = plan_total_steps(batches_per_epoch=len(batches), config=config)
    if peak_tokens is not None:
        estimate = check_training_fits(
            model,
            tokens=peak_tokens,
            device=device,
            lora=config.lora,
            processes=world,
            frozen_parameters=frozen_parameters,
        )
        if main:
            callbacks.on_log(f"memory preflight: {estimate.describe()} per process; it fits")
    if not resume:
        # The same seed on every process: dropout and sampling match what one process would draw.
        torch.manual_seed(config.seed)
        random.seed(config.seed)
    # Under FSDP/ZeRO-3 the caller's module ends up holding a shard: a weightless (meta) copy of it is kept to
    # receive the gathered full weights at the end.
    skeleton = _meta_copy(model) if weights_are_sharded(accelerator) else None
    if skeleton is not None and getattr(model, "unpadded", False):
        # The reward models' unpadded pass reads the layers' weights itself, which sharding hides.
        model.unpadded = False
        if main:
            callbacks.on_log("unpadded pass off: the weights are sharded (FSDP / ZeRO-3)")
    # Model and optimizer in one `prepare`: FSDP2 shards both together (it refuses them one by one).
    optimizer = _make_optimizer([p for p in model.parameters() if p.requires_grad], config=config)
    prepared, optimizer = accelerator.prepare(model, optimizer)
    parameters = [p for p in prepared.parameters() if p.requires_grad]
    # Not prepared: accelerate's scheduler wrapper steps N times per step under N processes.
    scheduler = get_linear_schedule_with_warmup(
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    accelerator.register_for_checkpointing(scheduler)
    history: list[dict[str, Any]] = []
    start_step = 0
    if resume:
        checkpoint = latest_checkpoint(checkpoint_dir)
        if checkpoint is not None:
            accelerator.load_state(str(checkpoint))
            state = torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)
            start_step, history = int(state["step"]), list(state["history"])
            if main:
                callbacks.on_log(
                    f"resuming from {checkpoint.name} at step {start_step} of {total_steps}"
                )

    def checkpoint(step: int) -> Path:
        return save_checkpoint(
            checkpoint_dir,
            step=step,
            accelerator=accelerator,
            history=history,
            keep=config.save_total_limit,
        )

    if main and world > 1:
        callbacks.on_log(
            f"training on {world} processes ({accelerator.distributed_type.value}), "
            f"{config.batch_size} examples per micro-batch across them"
        )
    prepared.train()
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
            shard_of_batch(epoch_batches[(first + k) % len(epoch_batches)], rank=rank, world=world)
            for k in range(accumulation)
        ]
        try:
            loss_value, metrics = _optimizer_step(
                micro_batches,
                compute_loss=compute_loss,
                model=prepared,
                parameters=parameters,
                optimizer=optimizer,
                scheduler=scheduler,
                config=config,
                device=device,
                accelerator=accelerator,
            )
        except torch.OutOfMemoryError as exc:
            raise out_of_memory_error(exc, step=step + 1) from exc
        step += 1
        metrics["learning_rate"] = scheduler.get_last_lr()[0]
        epoch_progress = epoch + (step_in_epoch + 1) / steps_per_epoch
        record = {"step": step, "epoch": round(epoch_progress, 4), "loss": loss_value, **metrics}
        history.append(record)
        last_metrics = {"loss": loss_value, **metrics}
        if main:
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
        # A stop request on the last step changes nothing: the run is complete. Every process learns of a
        # request any of them saw, so all stop at the same step.
        if step < total_steps and _any_process(accelerator, callbacks.should_stop()):
            path = checkpoint(step)
            if main:
                callbacks.on_log(
                    f"stopped on request at step {step}; checkpoint {path.name} can resume"
                )
            prepared.eval()
            trained = full_model(accelerator, prepared, model=model, skeleton=skeleton)
            return LoopOutcome("cancelled", step, total_steps, history, last_metrics, main, trained)
        if config.save_steps and step % config.save_steps == 0 and step < total_steps:
            checkpoint(step)
            if main:
                callbacks.on_log(f"checkpoint at step {step}")
    prepared.eval()
    accelerator.wait_for_everyone()
    trained = full_model(accelerator, prepared, model=model, skeleton=skeleton)
    return LoopOutcome("succeeded", step, total_steps, history, last_metrics, main, trained)


def weights_are_sharded(accelerator: Any) -> bool:
    """True under FSDP and DeepSpeed ZeRO-3, where no process's module holds all the weights."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.deepspeed_config["zero_optimization"]["stage"] == 3
    return False


def full_model(
    accelerator: Any, prepared: nn.Module, *, model: nn.Module, skeleton: nn.Module | None
) -> nn.Module | None:
    """The module with all the trained weights on the main process (None on the others).

    Every process must call it: under FSDP/ZeRO-3 `get_state_dict` gathers the shards (a collective), and the
    main process loads the full state dict into `skeleton` (the meta copy taken before sharding). Otherwise
    the caller's `model` (unwrapped from DDP) already holds them.
    """
    if skeleton is None:
        unwrapped = accelerator.unwrap_model(prepared)
        return unwrapped if accelerator.is_main_process else None
    state = accelerator.get_state_dict(prepared)
    if not accelerator.is_main_process:
        return None
    skeleton.load_state_dict(state, assign=True)
    return skeleton.to(accelerator.device)


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` whose parameters are on the meta device (no memory); buffers are copied as they are
    (small, and some are not in the state dict)."""
    memo: dict[int, Any] = {}
    for parameter in model.parameters():
        memo[id(parameter)] = nn.Parameter(
            torch.empty_like(parameter, device="meta"), requires_grad=parameter.requires_grad
        )
    return copy.deepcopy(model, memo)


def _any_process(accelerator: Any, flag: bool) -> bool:
    if accelerator.num_processes == 1:
        return flag
    vote = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(vote, reduction="sum").item() > 0)


def _optimizer_step(
    micro_batches: Sequence[tuple[Any, float]],
    *,
    compute_loss: ComputeLoss,
    model: nn.Module,
    parameters: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: BaseConfig,
    device: DeviceChoice,
    accelerator: Any,
) -> tuple[float, dict[str, float]]:
    """One optimizer step over (shard, weight) micro-batches; returns the step's loss and metrics, averaged
    over micro-batches and summed over processes by weight (what one process would have computed)."""
    count = len(micro_batches)
    world = accelerator.num_processes
    loss_total = torch.zeros((), dtype=torch.float64)
    sums: dict[str, float] = {}
    for index, (shard, weight) in enumerate(micro_batches):
        last = index == count - 1
        # The all-reduce runs once per optimizer step, on the last micro-batch.
        syncing = nullcontext() if last or world == 1 else accelerator.no_sync(model)
        with syncing:
            with device.autocast():
                loss, metrics = compute_loss(shard, model)
            accelerator.backward(loss * (weight / count))
        loss_total += loss.detach().double().cpu() * weight
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + float(value) * weight
    keys = sorted(sums)
    local = torch.tensor([float(loss_total), *(sums[k] for k in keys)], dtype=torch.float64)
    if world > 1:
        # Weights are share x world, so the sum over processes divided by world is the global mean.
        local = accelerator.reduce(local.to(accelerator.device), reduction="sum").cpu() / world
    values = (local / count).tolist()
    averages = dict(zip(keys, values[1:], strict=True))
    if config.max_grad_norm > 0:
        averages["grad_norm"] = float(accelerator.clip_grad_norm_(parameters, config.max_grad_norm))
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return values[0], averages


def _make_optimizer(parameters: list[nn.Parameter], *, config: BaseConfig) -> torch.optim.Optimizer:
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
    accelerator: Any,
    history: list[dict[str, Any]],
    keep: int,
) -> Path:
    """Write accelerate's state (weights, optimizer, schedule, every process's RNG) and the step and history
    for `step`, prune to the newest `keep`, and return the directory (collective: every process calls it).

    The main process writes the state file last, under a temporary name renamed into place, so a crash never
    leaves a half checkpoint that `latest_checkpoint` would pick.
    """
    path = checkpoint_dir / f"{CHECKPOINT_PREFIX}{step}"
    if accelerator.is_main_process:
        path.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        temporary = path / (STATE_FILE + ".tmp")
        torch.save({"step": step, "history": history}, temporary)
        temporary.replace(path / STATE_FILE)
        _prune(checkpoint_dir, keep=keep)
    accelerator.wait_for_everyone()
    return path


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
