"""A BERT encoder pass that computes no padding and, in its last layer, only the tokens the head reads.

A reward head on "pooler" or "cls" pooling reads one vector per sequence: the first token's last hidden
state. The stock forward spends most of its time on work that never reaches it:
- packed rows still hold some padding (first-fit leaves gaps), and every linear layer multiplies it;
- the last layer computes queries, attention outputs and the feed-forward block for every token, though only
  the first token of each sequence is read.

Here every linear layer and layer norm runs on the real tokens only, flattened to (T, H); only attention
lays them out in the packed rows, under the same block-diagonal mask. The last layer computes keys and
values for all tokens (every token is attended to) but queries, attention output and feed-forward for the
first tokens only. The module's own weights do the work, so LoRA adapters and the optimizer see the same
parameters; `RewardModel` turns this path on only after checking that it scores as the padded forward does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from trainer.reward.batching import PackedBatch


def bert_base(backbone: nn.Module) -> nn.Module | None:
    """The BertModel under `backbone` (through a peft wrapper) when it has BERT's module layout, else None."""
    base = backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone
    config = getattr(base, "config", None)
    if config is None or getattr(config, "model_type", None) != "bert" or config.is_decoder:
        return None
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not layers or not hasattr(base, "embeddings"):
        return None
    return base


def first_token_states(base: nn.Module, packed: PackedBatch) -> torch.Tensor:
    """(N, H): the last hidden state of each packed sequence's first token, in input order.

    `base` is a BertModel (see `bert_base`); `packed` comes from `pack_batch`.
    """
    input_ids = packed.inputs["input_ids"]
    rows, width = input_ids.shape
    count = packed.lengths.shape[0]
    # Flat positions (in the R*C packed layout) of the real tokens, in ascending order.
    real = torch.nonzero(packed.segment_of_token < count, as_tuple=True)[0]
    token_types = packed.inputs.get("token_type_ids")
    hidden = base.embeddings(
        input_ids=input_ids.flatten()[real][None],
        token_type_ids=None if token_types is None else token_types.flatten()[real][None],
        position_ids=packed.inputs["position_ids"].flatten()[real][None],
    )[0]
    mask = packed.inputs["attention_mask"].to(hidden.dtype)
    layers = base.encoder.layer
    for layer in layers[:-1]:
        attention = layer.attention
        queries, keys, values = _in_rows(attention.self, hidden, real, rows, width)
        mixed = _attend(attention.self, queries, keys, values, mask)
        mixed = mixed.transpose(1, 2).reshape(rows * width, -1)[real]
        attended = attention.output(mixed, hidden)
        hidden = layer.output(layer.intermediate(attended), attended)
    # The last layer: every token is a key and a value, only the first tokens are queries.
    attention = layers[-1].attention
    first = torch.searchsorted(real, packed.first_token)
    _, keys, values = _in_rows(attention.self, hidden, real, rows, width, queries=False)
    row_of = packed.first_token // width
    queries = _heads(attention.self, attention.self.query(hidden[first]))[:, :, None]
    row_mask = mask[row_of, :, packed.first_token % width][:, :, None]
    mixed = _attend(attention.self, queries, keys[row_of], values[row_of], row_mask)
    mixed = mixed.reshape(count, -1)
    attended = attention.output(mixed, hidden[first])
    return layers[-1].output(layers[-1].intermediate(attended), attended)


def _heads(module: nn.Module, projected: torch.Tensor) -> torch.Tensor:
    """(..., H) → (..., heads, head_size)."""
    return projected.view(*projected.shape[:-1], -1, module.attention_head_size)


def _in_rows(
    module: nn.Module,
    hidden: torch.Tensor,
    real: torch.Tensor,
    rows: int,
    width: int,
    *,
    queries: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Project the flat tokens and lay the projections out in the packed rows: (R, heads, C, head_size) each,
    zero at padding (which attends to itself only and is never read)."""

    def laid_out(linear: nn.Module) -> torch.Tensor:
        projected = linear(hidden)
        buffer = projected.new_zeros((rows * width, projected.shape[-1]))
        buffer = buffer.index_copy(0, real, projected)
        return _heads(module, buffer.view(rows, width, -1)).transpose(1, 2)

    return (
        laid_out(module.query) if queries else None,
        laid_out(module.key),
        laid_out(module.value),
    )


def _attend(
    module: nn.Module,
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    dropout = module.dropout.p if module.training and hasattr(module, "dropout") else 0.0
    return functional.scaled_dot_product_attention(
        queries,
        keys,
        values,
        attn_mask=mask,
        dropout_p=dropout,
        scale=getattr(module, "scaling", None),
    )
