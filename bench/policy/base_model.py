"""The benchmark's base policy: a tiny GPT-2 built from a config and pretrained from scratch on the
task's corpus (half of it wrong: formats.py or arithmetic.py), with a word-level tokenizer built here. Nothing is downloaded.

Sequences are tokenised exactly as the trainer's policy objectives tokenise prompt + completion
(`trainer.policy.common.encode_completion`: BOS, prompt, a space, completion, EOS), so the base model
is pretrained on the very text layout it is later trained and sampled on.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from bench.policy import formats
from trainer.policy.common import encode_completion, pad_completions

SPECIAL = ["<unk>", "<s>", "</s>", "<pad>"]
SHAPE = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 32}


def build_tokenizer(task=formats) -> PreTrainedTokenizerFast:
    """Word-level tokenizer over `task`'s vocabulary (a task module: formats or arithmetic)."""
    vocab = {token: i for i, token in enumerate(SPECIAL + task.vocabulary())}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # words joined by spaces
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    # A pad token of its own: with pad == EOS, whatever locates the last token by the pad id
    # would read the token before the EOS.
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=SHAPE["n_positions"],
    )


def pretrain(
    directory: Path,
    *,
    task=formats,
    copies: int = 64,
    right_share: float = 0.5,
    epochs: int = 8,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    log=print,
) -> dict[str, float]:
    """Builds the tokenizer and a random GPT-2, trains it as a language model on the corpus (every
    response token: the operands in the prompt are random draws), saves both to `directory`; returns parameters, steps, seconds."""
    tokenizer = build_tokenizer(task)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **SHAPE,
    )
    model = GPT2LMHeadModel(config)
    rows = task.pretraining_texts(copies=copies, right_share=right_share, seed=seed)
    examples = [
        encode_completion(tokenizer, prompt, response, max_length=SHAPE["n_positions"])
        for prompt, response in rows
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    total = epochs * math.ceil(len(examples) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 50) * max(0.0, 1 - step / total)
    )
    generator = torch.Generator().manual_seed(seed)
    started, step, loss_value = time.monotonic(), 0, float("nan")
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = pad_completions(
                [examples[i] for i in order[start : start + batch_size]],
                pad_token_id=tokenizer.pad_token_id,
                device=torch.device("cpu"),
            )
            # The operands are drawn at random: only the response is learnable, so only it is scored.
            labels = batch["input_ids"].masked_fill(~batch["completion_mask"], -100)
            loss = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels
            ).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            loss_value = loss.item()
        log(f"pretrain epoch {epoch + 1}/{epochs}: loss {loss_value:.4f}")
    model.eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {
        "parameters": float(sum(p.numel() for p in model.parameters())),
        "steps": float(step),
        "sequences": float(len(examples)),
        "seconds": time.monotonic() - started,
        "final_loss": loss_value,
    }
