"""Driving a TRL (transformers) Trainer with our callbacks, device choice, checkpoints and resume."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from trainer.config import PolicyConfig
from trainer.device import DeviceChoice
from trainer.events import ProgressEvent, Status, TrainingCallbacks


def hf_arguments(
    config: PolicyConfig, device: DeviceChoice, checkpoint_dir: Path
) -> dict[str, Any]:
    """TrainingArguments fields shared by our TRL-based objectives.

    Precision and checkpointing come from the device: TRL's defaults (bf16, gradient checkpointing) make a CPU
    step many times slower. `config.batch_size` is the global batch, as in our own loop: under N processes
    (torchrun / accelerate launch) each takes its 1/N share, rounded up.
    """
    return {
        "output_dir": str(checkpoint_dir),
        "per_device_train_batch_size": per_process_batch_size(config.batch_size),
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "learning_rate": config.learning_rate,
        "num_train_epochs": config.num_epochs,
        "max_steps": config.max_steps if config.max_steps is not None else -1,
        "lr_scheduler_type": "linear",
        "warmup_steps": config.warmup_ratio,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "seed": config.seed,
        "data_seed": config.seed,
        "bf16": device.bf16,
        # The new name of `gradient_checkpointing`; setting it also overrides TRL's default of True.
        "activation_checkpointing": device.gradient_checkpointing,
        "use_cpu": not device.is_cuda,
        "save_strategy": "steps" if config.save_steps else "no",
        "save_steps": config.save_steps or 1,
        "save_total_limit": config.save_total_limit,
        "logging_steps": 1,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "max_length": config.max_length,
        "beta": config.beta,
    }


def world_size() -> int:
    """How many training processes the launcher started (WORLD_SIZE, set by torchrun and accelerate launch)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """True in the one process that reports and writes the run's files (RANK 0, or no launcher at all)."""
    return os.environ.get("RANK", "0") == "0"


def per_process_batch_size(global_batch_size: int) -> int:
    """Each process's share of a global batch; rounded up, so N processes never train on less than asked."""
    return math.ceil(global_batch_size / world_size())


def any_process(flag: bool, *, device: Any) -> bool:
    """True on every process when `flag` is True on any of them (a no-op without a process group).

    Every process calls it at the same point, so a stop seen by one rank stops all of them at the same step
    instead of leaving the others waiting in the next all-reduce.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    vote = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(vote)
    return bool(vote.item() > 0)


class CallbackBridge(TrainerCallback):
    """Forwards each step's log to `on_progress`, then polls `should_stop`; True checkpoints the step and stops."""

    def __init__(self, callbacks: TrainingCallbacks) -> None:
        self.callbacks = callbacks
        self.cancelled = False
        self._started = 0.0
        self._first_step = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs
    ):
        self._started = time.monotonic()
        self._first_step = state.global_step

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs=None,
        **kwargs,
    ):
        # logging_steps=1, so this runs once per optimizer step, after the step and before the Trainer decides
        # whether to save: setting should_save here checkpoints this very step.
        if not logs or "loss" not in logs or "train_runtime" in logs:
            return control
        numbers = {
            k: float(v)
            for k, v in logs.items()
            if isinstance(v, int | float) and k not in ("loss", "epoch")
        }
        done = state.global_step - self._first_step
        elapsed = time.monotonic() - self._started
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None
        self.callbacks.on_progress(
            ProgressEvent(
                step=state.global_step,
                total_steps=state.max_steps,
                epoch=float(state.epoch or 0.0),
                loss=float(logs["loss"]),
                metrics=numbers,
                eta_seconds=eta,
            )
        )
        # The Trainer logs on every process at the same step, so every process takes part in the vote.
        if state.global_step < state.max_steps and any_process(
            self.callbacks.should_stop(), device=args.device
        ):
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control


def last_complete_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest checkpoint folder that was written to the end, or None.

    The Trainer writes a checkpoint's state file last, so a folder without it is what a worker
    killed mid-save leaves behind; resuming from it fails, so the one before it is taken instead.
    """
    if not checkpoint_dir.is_dir():
        return None
    steps = []
    for folder in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        suffix = folder.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if suffix.isdigit() and (folder / TRAINER_STATE_NAME).is_file():
            steps.append((int(suffix), folder))
    return str(max(steps)[1]) if steps else None


def run_hf_trainer(
    hf_trainer: Any,
    *,
    bridge: CallbackBridge,
    checkpoint_dir: Path,
    resume: bool,
    callbacks: TrainingCallbacks,
) -> tuple[Status, list[dict[str, Any]], int]:
    """Train (resuming from the newest checkpoint when asked and present); return status, history, last step."""
    # Progress goes to our callbacks; the Trainer's own printing of every log dict would be noise in a worker.
    hf_trainer.remove_callback(PrinterCallback)
    checkpoint = last_complete_checkpoint(checkpoint_dir) if resume else None
    if checkpoint:
        callbacks.on_log(f"resuming from {Path(checkpoint).name}")
    hf_trainer.train(resume_from_checkpoint=checkpoint)
    history = [
        entry
        for entry in hf_trainer.state.log_history
        if "loss" in entry and "train_runtime" not in entry
    ]
    step = hf_trainer.state.global_step
    if bridge.cancelled:
        callbacks.on_log(f"stopped on request at step {step}; the checkpoint can resume")
        return "cancelled", history, step
    return "succeeded", history, step


def preflight_trl_run(
    *,
    model: Any,
    reference: Any,
    tokenizer: Any,
    records: list[dict],
    text_keys: tuple[str, ...],
    sequences_per_record: int,
    config: PolicyConfig,
    device: DeviceChoice,
    callbacks: TrainingCallbacks,
) -> None:
    """The memory preflight of a TRL run (see trainer.memory): the largest micro-batch is the global batch of
    records, each `sequences_per_record` sequences at the longest tokenised length (at most max_length);
    LoRA adapters are counted as peft will add them; a reference copy is held frozen alongside."""
    from trainer.memory import check_training_fits, lora_parameters
    from trainer.models import lora_targets

    texts = [record["prompt"] + record[key] for record in records for key in text_keys]
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]] if texts else []
    # + 1 for the EOS TRL appends.
    longest = min(config.max_length, max(lengths, default=config.max_length) + 1)
    tokens = min(config.batch_size, len(records)) * sequences_per_record * longest
    trainable = None
    if config.lora:
        targets = lora_targets(
            config.lora_target_modules, model_type=getattr(model.config, "model_type", None)
        )
        trainable = lora_parameters(model, rank=config.lora_r, targets=targets)
    frozen = sum(p.numel() for p in reference.parameters()) if reference is not None else 0
    estimate = check_training_fits(
        model,
        tokens=tokens,
        device=device,
        lora=config.lora,
        processes=world_size(),
        trainable_parameters=trainable,
        frozen_parameters=frozen,
    )
    if is_main_process():
        callbacks.on_log(f"memory preflight: {estimate.describe()} per process; it fits")


def train_with_trl(
    trainer_class: Any,
    *,
    model: Any,
    reference: Any,
    args: TrainingArguments,
    records: list[dict],
    tokenizer: Any,
    config: PolicyConfig,
    device: DeviceChoice,
    checkpoint_dir: Path,
    resume: bool,
    callbacks: TrainingCallbacks,
    unit: str,
    text_keys: tuple[str, ...],
    sequences_per_record: int,
) -> tuple[Any, Status, list[dict], int, float]:
    """Builds one of TRL's preference trainers (DPOTrainer, KTOTrainer) on `records`, runs it
    with progress and cancel bridged to `callbacks`, and returns the trainer, the status, the
    history, the last step and the runtime in seconds. `unit` names a record in log lines.

    First the memory preflight: a record is `sequences_per_record` sequences of prompt + record[key] for
    `text_keys` (DPO: chosen and rejected; KTO: the completion and its KL partner); a run that would not
    fit is refused before TRL loads anything more (InsufficientMemoryError)."""
    from datasets import Dataset

    from trainer.models import lora_config

    preflight_trl_run(
        model=model,
        reference=reference,
        tokenizer=tokenizer,
        records=records,
        text_keys=text_keys,
        sequences_per_record=sequences_per_record,
        config=config,
        device=device,
        callbacks=callbacks,
    )
    bridge = CallbackBridge(callbacks)
    hf_trainer = trainer_class(
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
            f"{dropped} of {len(records)} {unit} dropped by TRL: prompt longer than max_length"
        )
    started = time.monotonic()
    status, history, step = run_hf_trainer(
        hf_trainer, bridge=bridge, checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks
    )
    return hf_trainer, status, history, step, time.monotonic() - started
