"""Decoder-LM backbones (Llama, Qwen2, Mistral, GPT-2 classes) as reward models.

A causal LM sees a token's left context only, so the one position that has read the whole input is the last
one: reward models on decoders score the hidden state of the final token (TRL, OpenRLHF), and that token is
the tokenizer's EOS, appended to every input so that the score always comes from the same kind of position.
Our batches are right-padded by `pad_batch` and the last real token is found from the attention mask, so it
does not matter which side the tokenizer pads on, nor that a decoder's pad token is often its EOS.
"""

from __future__ import annotations

from torch import nn
from transformers import PreTrainedTokenizerBase


def is_decoder_backbone(backbone: nn.Module) -> bool:
    """True for decoder-only LMs: their model type has a causal-LM class and no masked-LM one (BERT has both)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    config = getattr(backbone, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is None or getattr(config, "is_encoder_decoder", False):
        return False
    return (
        model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


def pooling_for(backbone: nn.Module, requested: str) -> str:
    """The pooling to use: on a decoder the first token has read nothing, so "pooler"/"cls" become "last"."""
    if is_decoder_backbone(backbone) and requested in ("pooler", "cls"):
        return "last"
    return requested


def end_inputs_with_eos(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Make the (fast) tokenizer append its EOS token to every input, after any BOS it already adds.

    Truncation keeps special tokens, so the EOS stays last even in a cut input. Returns whether the tokenizer
    was changed (False when it already ends inputs with EOS, or has no EOS or is not a fast tokenizer). The
    template is saved with the tokenizer, and applying it again to a loaded tokenizer changes nothing.
    """
    from tokenizers import processors

    eos, eos_id = tokenizer.eos_token, tokenizer.eos_token_id
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if eos is None or eos_id is None or backend is None:
        return False
    with_specials = tokenizer("x")["input_ids"]
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    if with_specials and with_specials[-1] == eos_id:
        return False
    # Keep what the tokenizer already puts in front (Llama's BOS); drop anything it appended.
    prefix_ids = with_specials[: len(with_specials) - len(plain)] if plain else []
    if with_specials[len(prefix_ids) : len(prefix_ids) + len(plain)] != plain:
        prefix_ids = []
    prefix = [tokenizer.convert_ids_to_tokens(i) for i in prefix_ids]
    specials = {token: i for token, i in zip(prefix, prefix_ids, strict=True)}
    specials[eos] = eos_id
    head = " ".join(prefix)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{head} $A {eos}".strip(),
        pair=f"{head} $A $B {eos}".strip(),
        special_tokens=list(specials.items()),
    )
    return True


def prepare_decoder_tokenizer(tokenizer: PreTrainedTokenizerBase, backbone: nn.Module) -> None:
    """For a decoder backbone: EOS at the end of every input, right padding (what `pad_batch` does too)."""
    if not is_decoder_backbone(backbone):
        return
    end_inputs_with_eos(tokenizer)
    tokenizer.padding_side = "right"
