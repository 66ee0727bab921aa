"""Will this run fit in memory? An estimate before the first step, and a plain reason when it did not fit.

The estimate per process (bytes), for a model with P parameters of which T are trained, L layers of width H,
and N tokens in the largest micro-batch of this process:

    weights     P x 4                       (fp32 master weights; bf16 autocast computes in bf16)
    gradients   T x 4
    optimizer   T x 8                       (AdamW's two moments)
    activations L x N x H x 34 x b / 2      (Korthikanti et al. 2022, per layer; b = 2 bytes in bf16, 4 in fp32,
                                             attention by SDPA, which keeps no T x T scores)
                with checkpointing: L x N x H x b (each layer's input) + one layer's full activations
    logits      N x V x 4 x 2               (language-model heads only: logits and their gradient)
    frozen      F x 4                       (frozen models held alongside: DPO's and KTO's reference copy,
                                             RAFT's reward model)

Under LoRA, T is the adapters' size, r x (inputs + outputs) of every adapted layer, counted before peft
wraps the model when TRL does the wrapping (DPO, KTO).

plus 20% for the allocator and temporaries (and 1 GiB of CUDA context). It is an estimate: it errs high
rather than low, because a refused run costs a click and a crashed one costs hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainer.device import DeviceChoice
from trainer.errors import TrainerError

GIB = 1024**3
_ALLOCATOR_MARGIN = 1.2
_CUDA_CONTEXT = 1 * GIB


class InsufficientMemoryError(TrainerError):
    """The run would not fit in the device's memory (before it starts), or ran out of it (during the run)."""


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    gradients: int
    optimizer: int
    activations: int
    logits: int
    total: int
    frozen: int = 0

    def describe(self) -> str:
        parts = ("weights", "frozen", "gradients", "optimizer", "activations", "logits")
        detail = ", ".join(f"{p} {getattr(self, p) / GIB:.1f}" for p in parts if getattr(self, p))
        return f"about {self.total / GIB:.1f} GiB ({detail} GiB)"


def estimate_training_memory(
    *,
    total_parameters: int,
    trainable_parameters: int,
    num_layers: int,
    hidden_size: int,
    tokens: int,
    bf16: bool,
    gradient_checkpointing: bool,
    vocab_size: int = 0,
    cuda: bool = False,
    frozen_parameters: int = 0,
) -> MemoryEstimate:
    """The formula of the module docstring; `tokens` is the largest micro-batch of one process, padded."""
    value_bytes = 2 if bf16 else 4
    one_layer = tokens * hidden_size * 34 * value_bytes // 2
    if gradient_checkpointing:
        activations = num_layers * tokens * hidden_size * value_bytes + one_layer
    else:
        activations = num_layers * one_layer
    weights = total_parameters * 4
    gradients = trainable_parameters * 4
    optimizer = trainable_parameters * 8
    logits = tokens * vocab_size * 4 * 2
    frozen = frozen_parameters * 4
    subtotal = weights + frozen + gradients + optimizer + activations + logits
    total = int(subtotal * _ALLOCATOR_MARGIN) + (_CUDA_CONTEXT if cuda else 0)
    return MemoryEstimate(weights, gradients, optimizer, activations, logits, total, frozen)


def available_memory(device: DeviceChoice) -> int:
    """Bytes this process may use: free memory of its GPU, or the machine's available RAM."""
    if device.is_cuda:
        free, _total = torch.cuda.mem_get_info(device.device)
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def model_shape(model: nn.Module) -> tuple[int, int, int]:
    """(layers, hidden size, vocabulary size of an LM head or 0) read from the model's config."""
    config = getattr(model, "config", None)
    if config is None:
        for module in model.modules():
            if getattr(module, "config", None) is not None and module is not model:
                config = module.config
                break
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = next(
        (getattr(text, a) for a in ("num_hidden_layers", "n_layer") if hasattr(text, a)), 1
    )
    hidden = next(
        (getattr(text, a) for a in ("hidden_size", "n_embd", "d_model") if hasattr(text, a)), 1
    )
    has_lm_head = (
        model.get_output_embeddings() is not None
        if hasattr(model, "get_output_embeddings")
        else False
    )
    vocab = int(getattr(text, "vocab_size", 0)) if has_lm_head else 0
    return int(layers), int(hidden), vocab


def lora_parameters(model: nn.Module, *, rank: int, targets: list[str] | str) -> int:
    """How many parameters LoRA adapters of rank `rank` on `targets` would add to `model` (before peft wraps
    it): r x (inputs + outputs) per adapted layer. `targets` are module-name suffixes, or "all-linear" (every
    linear layer but the output embedding)."""
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    count = 0
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        # nn.Linear, and GPT-2's Conv1D (the same matrix, transposed).
        linear = isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"
        if not linear or weight is None or weight.ndim != 2 or module is output:
            continue
        if targets == "all-linear" or name.rsplit(".", 1)[-1] in targets:
            count += rank * (weight.shape[0] + weight.shape[1])
    return count


def check_training_fits(
    model: nn.Module,
    *,
    tokens: int,
    device: DeviceChoice,
    lora: bool,
    processes: int = 1,
    available: int | None = None,
    trainable_parameters: int | None = None,
    frozen_parameters: int = 0,
) -> MemoryEstimate:
    """Estimate this run's memory per process and raise InsufficientMemoryError if it exceeds what is free.

    `tokens` is the padded token count of the largest global micro-batch; each of `processes` holds its share.
    `trainable_parameters` defaults to the parameters with requires_grad (give it when another library adds
    adapters later); `frozen_parameters` counts models held alongside without training (a reference copy).
    """
    layers, hidden, vocab = model_shape(model)
    if trainable_parameters is None:
        trainable_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    estimate = estimate_training_memory(
        total_parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=trainable_parameters,
        num_layers=layers,
        hidden_size=hidden,
        tokens=-(-tokens // max(1, processes)),
        bf16=device.bf16,
        gradient_checkpointing=device.gradient_checkpointing,
        vocab_size=vocab,
        cuda=device.is_cuda,
        frozen_parameters=frozen_parameters,
    )
    free = available_memory(device) if available is None else available
    if estimate.total > free:
        remedies = []
        if not lora:
            remedies.append("train LoRA adapters (lora: true) instead of all weights")
        if device.is_cuda and not device.gradient_checkpointing:
            remedies.append("turn on gradient_checkpointing")
        remedies.append("lower batch_size (raising gradient_accumulation_steps keeps the batch)")
        remedies.append("lower max_length")
        where = f"GPU {device.device}" if device.is_cuda else "this machine's RAM"
        raise InsufficientMemoryError(
            f"this run needs {estimate.describe()} per process, but {where} has "
            f"{free / GIB:.1f} GiB free; refusing to start. To fit: " + "; ".join(remedies) + "."
        )
    return estimate


def out_of_memory_error(exc: BaseException, *, step: int) -> InsufficientMemoryError:
    """The error a run fails with when the device ran out of memory during step `step`."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return InsufficientMemoryError(
        f"out of memory during step {step}: {first}. Train LoRA adapters, turn on "
        "gradient_checkpointing, or lower batch_size or max_length."
    )
