"""`python -m trainer` with accelerate's FSDP2 on CPU processes (gloo): the FSDP test's entry point under torchrun.

accelerate applies an FSDP plugin only to GPU process groups; with `cpu=True` (and on a machine without GPUs)
`Accelerator` stays MULTI_CPU, that is DDP, whatever the plugin or ACCELERATE_USE_FSDP says. torch's own
`fully_shard` runs over gloo, so this entry point sets the accelerator's state to FSDP version 2 right after
the loop builds it; `accelerate.prepare` then shards the model with `fully_shard` as it would on GPUs, and
`get_state_dict` gathers it. accelerate's `save_state` does not work in this set-up (it fails reading a
DTensor's storage), so runs started here must not checkpoint (`save_steps: 0`).
"""

from __future__ import annotations

import sys
from typing import Any

import trainer.loop
from trainer.cli import main
from trainer.device import DeviceChoice

_make_accelerator = trainer.loop.make_accelerator


def make_fsdp2_accelerator(device: DeviceChoice) -> Any:
    from accelerate import FullyShardedDataParallelPlugin, PartialState
    from accelerate.utils import DistributedType

    accelerator = _make_accelerator(device)
    # Both states: every later AcceleratorState() copies PartialState's fields over its own.
    PartialState().distributed_type = DistributedType.FSDP
    accelerator.state.distributed_type = DistributedType.FSDP
    # Each transformer layer is a shard unit of its own, the rest (embeddings, pooler, head) the root's.
    # (A size-based policy would try to shard the layers' ModuleList, which fully_shard refuses.)
    accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin(
        fsdp_version=2,
        auto_wrap_policy="transformer_based_wrap",
        transformer_cls_names_to_wrap=["BertLayer"],
    )
    return accelerator


if __name__ == "__main__":
    trainer.loop.make_accelerator = make_fsdp2_accelerator
    raise SystemExit(main(sys.argv[1:]))
