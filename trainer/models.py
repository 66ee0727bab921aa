"""Loading base models and tokenizers from local files, and wrapping them in LoRA adapters.

The trainer never downloads (unless a config sets `allow_download`), and never trains a model whose weights
did not load: both would turn a typo into hours of training a random network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from trainer.config import BaseConfig
from trainer.errors import ModelLoadError

# More than this share of a model's weights missing from the checkpoint means it is not the model asked for.
_MAX_MISSING_SHARE = 0.5


def load_tokenizer(name: str, *, allow_download: bool) -> Any:
    """AutoTokenizer.from_pretrained(name) from local files only; ModelLoadError with a plain message."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=_local_only(allow_download))
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(name, exc) from exc


def load_model(loader: Any, name: str, *, allow_download: bool, **kwargs: Any) -> Any:
    """`loader.from_pretrained(name)` (an Auto* model class) from local files only.

    Raises ModelLoadError when nothing loads, and also when a checkpoint loads but leaves most of the model's
    weights newly initialised: that is not the model asked for.
    """
    try:
        model, info = loader.from_pretrained(
            name, local_files_only=_local_only(allow_download), output_loading_info=True, **kwargs
        )
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(name, exc) from exc
    missing = len(info.get("missing_keys", []))
    total = sum(1 for _ in model.state_dict())
    if total and missing / total > _MAX_MISSING_SHARE:
        raise ModelLoadError(
            f"{name!r} loaded, but {missing} of its {total} weights were missing from the checkpoint and would be "
            "random; refusing to train it. Check that the directory holds the model's weights."
        )
    return model


def _local_only(allow_download: bool) -> bool:
    return not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1"


def _load_error(name: str, exc: BaseException) -> ModelLoadError:
    where = "a local directory" if Path(name).exists() else "a model id"
    return ModelLoadError(
        f"could not load {name!r} ({where}) from local files: {_first_line(exc)}. "
        "The trainer does not download models: give a local model directory, or a model id that is "
        "already in the Hugging Face cache."
    )


# LoRA targets per architecture when a config asks for "auto": every projection of attention and MLP, named
# as each model family names them (the choice of the LoRA and QLoRA papers: adapting all of them beats
# attention alone). Any other model gets peft's "all-linear" (every linear layer but the output head).
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma", "gemma2", "phi3"),
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    ),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    **dict.fromkeys(("bert", "roberta", "xlm-roberta"), ("query", "key", "value", "dense")),
}


def lora_targets(requested: list[str] | str, *, model_type: str | None) -> list[str] | str:
    """The target_modules for peft: `requested` as given, or for "auto" the table above for `model_type`."""
    if requested != "auto":
        return requested
    targets = LORA_TARGETS.get(model_type or "")
    return list(targets) if targets else "all-linear"


def apply_lora(model: nn.Module, config: BaseConfig, *, task_type: str | None = None) -> nn.Module:
    """Wrap `model` with LoRA adapters (peft) as the config asks; only the adapters stay trainable."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=lora_targets(
            config.lora_target_modules, model_type=getattr(model.config, "model_type", None)
        ),
        task_type=task_type,
    )
    return get_peft_model(model, lora)


def lora_config(config: BaseConfig, *, task_type: str, model_type: str | None = None) -> Any:
    """A peft LoraConfig for TRL's trainers, which wrap the model themselves."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=lora_targets(config.lora_target_modules, model_type=model_type),
        task_type=task_type,
    )


def disable_dropout(model: nn.Module) -> None:
    """Set every dropout probability to 0: reward and preference losses compare scores of the same model, and
    dropout noise on either side only blurs the comparison (TRL does the same by default)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
