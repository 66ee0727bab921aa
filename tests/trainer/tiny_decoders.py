"""Tiny random-weight decoder LMs (Llama and Qwen2 classes) built from a config into a folder; no download.

Decoder conventions as the real families have them: Llama's tokenizer is word-level over the tiny data's
vocabulary with a BOS in front; Qwen2's is byte-level (transformers rebuilds a Qwen2 tokenizer from its vocab
and merges, so a word-level one would not survive loading) with no BOS. Both have an EOS token and no pad
token, which the reward model must cope with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    LlamaConfig,
    LlamaModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2Model,
)

from tests.trainer import tiny

ARCHITECTURES = ("llama", "qwen2")


def vocabulary() -> dict[str, int]:
    words = sorted(
        {
            *tiny.GOOD,
            *tiny.BAD,
            *tiny.NEUTRAL,
            *tiny.TOPICS,
            *" ".join(tiny.PRINCIPLES).split(),
            *["does", "the", "response", "satisfy:", "satisfy", "?", ":", "user", "assistant"],
        }
    )
    return {token: i for i, token in enumerate(["<unk>", "<s>", "</s>", *words])}


def build_tiny_decoder(directory: Path, architecture: str) -> Path:
    """A 2-layer, 32-wide random Llama or Qwen2 backbone and its tokenizer, saved to `directory`."""
    vocab = vocabulary()
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    if architecture == "qwen2":
        alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
        vocab = {symbol: i for i, symbol in enumerate([*alphabet, "<s>", "</s>"])}
        backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>" if architecture == "llama" else None,
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=512,
    )
    tokenizer.save_pretrained(directory)
    shape = {
        # Spare rows, as real checkpoints have (Qwen2's embedding outsizes its tokenizer): loading adds tokens
        # such as Qwen2's <|endoftext|> pad.
        "vocab_size": len(vocab) + 8,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": vocab["<s>"],
        "eos_token_id": vocab["</s>"],
    }
    torch.manual_seed(0)
    if architecture == "llama":
        model = LlamaModel(LlamaConfig(**shape))
    elif architecture == "qwen2":
        model = Qwen2Model(Qwen2Config(**shape))
    else:
        raise ValueError(f"unknown architecture {architecture!r}")
    model.save_pretrained(directory)
    return directory
