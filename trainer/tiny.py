"""A tiny GPT-2 built from a config, with no download: the demo's generating models
(apps/core/demo_policy.py) and the policy of the tests (tests/trainer/tiny.py).

Its weights are random, so its text is noise; it exists to run the machinery in seconds of CPU.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_gpt2(directory: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide GPT-2 with random weights (from `seed`) and a byte-level tokenizer (every
    byte one token, no merges, plus <eos> and <pad>), saved in `directory`, which is made if missing."""
    # Imported here: the web app imports this module, and torch is seconds to load.
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    vocab["<eos>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<eos>", pad_token="<pad>", model_max_length=256
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=vocab["<eos>"],
        eos_token_id=vocab["<eos>"],
        pad_token_id=vocab["<pad>"],
    )
    directory.mkdir(parents=True, exist_ok=True)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
