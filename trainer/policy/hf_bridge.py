"""Driving a TRL (transformers) Trainer with our callbacks, device choice, checkpoints and resume."""

from __future__ import annotations

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
    step many times slower.
    """
    return {
        "output_dir": str(checkpoint_dir),
        "per_device_train_batch_size": config.batch_size,
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
        if state.global_step < state.max_steps and self.callbacks.should_stop():
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


def train_with_trl(
    trainer_class: Any,
    *,
    model: Any,
    reference: Any,
    args: TrainingArguments,
    records: list[dict],
    tokenizer: Any,
    config: PolicyConfig,
    checkpoint_dir: Path,
    resume: bool,
    callbacks: TrainingCallbacks,
    unit: str,
) -> tuple[Any, Status, list[dict], int, float]:
    """Builds one of TRL's preference trainers (DPOTrainer, KTOTrainer) on `records`, runs it
    with progress and cancel bridged to `callbacks`, and returns the trainer, the status, the
    history, the last step and the runtime in seconds. `unit` names a record in log lines."""
    from datasets import Dataset

    from trainer.models import lora_config

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
