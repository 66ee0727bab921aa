"""Tiny models, tokenizers and learnable datasets built offline for the trainer tests.

Nothing here downloads: the reward backbone is a 2-layer BERT with a word-level tokenizer over a fixed
vocabulary, the policy a 2-layer GPT-2 with a byte-level tokenizer (256 byte symbols, no merges), built by
trainer/tiny.py, which the demo uses too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

# Re-exported: the tests and bench/ import the policy builder from here.
from trainer.tiny import build_tiny_gpt2 as build_tiny_gpt2

GOOD = ["great", "helpful", "clear", "kind", "correct", "precise"]
BAD = ["rude", "wrong", "vague", "lazy", "useless", "confusing"]
NEUTRAL = ["the", "answer", "is", "here", "a", "reply", "about", "it", "and", "so", "this", "that"]
TOPICS = ["bread", "bikes", "music", "plants", "money", "dogs", "exams", "coffee"]
PRINCIPLES = ["is polite", "is accurate"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def build_tiny_bert(directory: Path) -> Path:
    """A 2-layer, 32-wide BERT and a word-level tokenizer with BERT's [CLS] a [SEP] b [SEP] template."""
    words = sorted(
        {
            *GOOD,
            *BAD,
            *NEUTRAL,
            *TOPICS,
            *" ".join(PRINCIPLES).split(),
            "does",
            "the",
            "response",
            "satisfy:",
            "satisfy",
            "?",
            ":",
            "user",
            "assistant",
        }
    )
    vocab = {token: i for i, token in enumerate(SPECIAL + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=vocab["[PAD]"],
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _words(rng: random.Random, pool: list[str], low: int, high: int) -> list[str]:
    return [rng.choice(pool) for _ in range(rng.randint(low, high))]


def _reply(rng: random.Random, good: bool) -> str:
    words = _words(rng, NEUTRAL, 2, 10) + _words(rng, GOOD if good else BAD, 1, 2)
    rng.shuffle(words)
    return " " + " ".join(words)


def _prompt(rng: random.Random) -> str:
    return " ".join(["the", rng.choice(TOPICS), *_words(rng, NEUTRAL, 0, 4)])


def pairwise_rows(count: int, *, seed: int, margin: bool = False) -> list[dict]:
    """Chosen replies carry 'good' words, rejected ones 'bad' words: learnable from the words alone."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        row = {"prompt": _prompt(rng), "chosen": _reply(rng, True), "rejected": _reply(rng, False)}
        if margin:
            row["margin"] = rng.choice([0.0, 0.5, 1.0])
        rows.append(row)
    return rows


def unpaired_rows(count: int, *, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"prompt": _prompt(rng), "completion": _reply(rng, good), "label": good}
        for good in (rng.random() < 0.5 for _ in range(count))
    ]


def listwise_rows(count: int, *, seed: int) -> list[dict]:
    """Lists of 3-4 replies; a reply's rank is set by how many good words it has (ties possible)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        size = rng.randint(3, 4)
        goods = [rng.randint(0, 3) for _ in range(size)]
        responses = []
        for n in goods:
            words = (
                _words(rng, NEUTRAL, 2, 6)
                + [rng.choice(GOOD) for _ in range(n)]
                + [rng.choice(BAD)] * (3 - n)
            )
            rng.shuffle(words)
            responses.append(" " + " ".join(words))
        distinct = sorted(set(goods), reverse=True)
        rows.append(
            {
                "prompt": _prompt(rng),
                "responses": responses,
                "ranks": [distinct.index(n) + 1 for n in goods],
            }
        )
    return rows


def principle_rows(count: int, *, seed: int) -> list[dict]:
    """'is polite' holds when the reply has no rude/lazy word; 'is accurate' when it has no wrong/vague word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        principle = rng.choice(PRINCIPLES)
        verdict = rng.random() < 0.5
        violations = ["rude", "lazy"] if principle == "is polite" else ["wrong", "vague"]
        words = _words(rng, NEUTRAL, 2, 8) + (
            [rng.choice(GOOD)] if verdict else [rng.choice(violations)]
        )
        rng.shuffle(words)
        rows.append(
            {
                "prompt": _prompt(rng),
                "response": " ".join(words),
                "principle": principle,
                "verdict": verdict,
            }
        )
    return rows


def reaction_rows(count: int, *, seed: int) -> list[dict]:
    """Good replies get love or thumbs_up, bad ones thumbs_down or angry."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        good = rng.random() < 0.5
        reaction = rng.choice(["love", "thumbs_up"] if good else ["thumbs_down", "angry"])
        rows.append({"prompt": _prompt(rng), "completion": _reply(rng, good), "reaction": reaction})
    return rows


def prompt_rows(count: int, *, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"prompt": _prompt(rng)} for _ in range(count)]
