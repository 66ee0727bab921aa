"""Pick where and in what precision to train, from what the machine has."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from trainer.errors import ConfigError


@dataclass(frozen=True)
class DeviceChoice:
    """Where training runs.

    bf16: autocast to bfloat16 (CUDA with native bf16 only; CPUs here lack it and run it ~28x slower).
    gradient_checkpointing: only ever True on CUDA, where memory is the constraint.
    """

    device: torch.device
    bf16: bool
    gradient_checkpointing: bool

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes: bf16 autocast on CUDA when chosen, otherwise plain fp32."""
        if self.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def describe(self) -> str:
        precision = "bf16 autocast" if self.bf16 else "fp32"
        threads = f", {torch.get_num_threads()} threads" if not self.is_cuda else ""
        checkpointing = ", gradient checkpointing" if self.gradient_checkpointing else ""
        return f"{self.device.type} {precision}{threads}{checkpointing}"


def choose_device(
    preference: str = "auto",
    *,
    num_threads: int | None = None,
    gradient_checkpointing: bool = False,
) -> DeviceChoice:
    """Resolve "auto"/"cpu"/"cuda" into a device and precision, and apply `num_threads` to torch.

    "auto" takes CUDA when available; bf16 is used when the GPU supports it natively. CPU runs are fp32 without
    gradient checkpointing whatever was asked, because both only cost time there.
    """
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    cuda = torch.cuda.is_available()
    if preference == "cuda" and not cuda:
        raise ConfigError("device 'cuda' was requested but no CUDA device is available")
    if preference == "cuda" or (preference == "auto" and cuda):
        return DeviceChoice(
            # Under a launcher each process takes the GPU of its local rank.
            device=torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))),
            bf16=torch.cuda.is_bf16_supported(),
            gradient_checkpointing=gradient_checkpointing,
        )
    return DeviceChoice(device=torch.device("cpu"), bf16=False, gradient_checkpointing=False)
