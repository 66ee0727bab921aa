"""Tokenising reward-model inputs once, batching by length, and padding each batch only to its own longest.

Most of an encoder's time goes into padded positions when short and long examples share a batch; grouping
examples of similar length and padding dynamically removes most of it without changing what is learned
(batches are still drawn at random, only their composition is length-aware). Packing goes further: the
sequences of a batch share rows, kept apart by a block-diagonal attention mask, so a short rejected
response no longer pads to its long chosen partner.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

# A length group holds this many batches: big enough to find similar lengths, small enough to stay random.
GROUP_BATCHES = 50


@dataclass(frozen=True)
class Encoded:
    """One tokenised model input.

    `truncated`: max_length cut something; `prompt_truncated`: the prompt (first segment) lost tokens from its
    left; `response_truncated`: the response (second segment) lost tokens from its end, which only happens when
    the response alone does not fit.
    """

    input_ids: list[int]
    token_type_ids: list[int] | None
    truncated: bool
    prompt_truncated: bool = False
    response_truncated: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)


INPUT_TEMPLATES = ("pair", "joined")


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    firsts: Sequence[str],
    seconds: Sequence[str],
    *,
    max_length: int,
    template: str = "pair",
) -> list[Encoded]:
    """Tokenise (prompt, response) texts, fitting each into `max_length` tokens; nothing is dropped here.

    template "pair": the tokenizer's two-segment template ([CLS] prompt [SEP] response [SEP] for BERT);
    "joined": one segment, prompt + response as one string (what TRL feeds a reward model).
    Over-long inputs lose prompt tokens from the left first (the end of a prompt holds the request the
    response answers); only a response that alone exceeds the budget is cut, at its end, and flagged as
    `response_truncated` so the caller can count or drop it.
    """
    if template not in INPUT_TEMPLATES:
        raise ValueError(f"template must be one of {INPUT_TEMPLATES}")
    if not firsts:
        return []
    firsts, seconds = list(firsts), list(seconds)
    joined = template == "joined"
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=not joined)
    prompt_tokens = tokenizer(firsts, add_special_tokens=False, return_offsets_mapping=True)
    response_lengths = [
        len(ids) for ids in tokenizer(seconds, add_special_tokens=False)["input_ids"]
    ]
    kept_prompts, prompt_cut = [], []
    for text, offsets, response_length in zip(
        firsts, prompt_tokens["offset_mapping"], response_lengths, strict=True
    ):
        room = max(0, budget - response_length)
        if len(offsets) <= room:
            kept_prompts.append(text)
            prompt_cut.append(False)
            continue
        # Cut at a token boundary, keeping the last `room` tokens of the prompt.
        start = offsets[len(offsets) - room][0] if room else len(text)
        kept_prompts.append(text[start:])
        prompt_cut.append(True)
    if joined:
        cut = tokenizer(
            [p + r for p, r in zip(kept_prompts, seconds, strict=True)],
            truncation=True,
            max_length=max_length,
            add_special_tokens=True,
        )
    else:
        cut = tokenizer(
            kept_prompts,
            seconds,
            truncation="longest_first",
            max_length=max_length,
            add_special_tokens=True,
        )
    has_types = "token_type_ids" in cut and not joined
    encoded = []
    for i, ids in enumerate(cut["input_ids"]):
        response_cut = response_lengths[i] > budget
        encoded.append(
            Encoded(
                input_ids=ids,
                token_type_ids=cut["token_type_ids"][i] if has_types else None,
                truncated=prompt_cut[i] or response_cut,
                prompt_truncated=prompt_cut[i],
                response_truncated=response_cut,
            )
        )
    return encoded


def pad_batch(
    sequences: Sequence[Encoded], *, pad_token_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence in this batch; returns input_ids, attention_mask[, token_type_ids]."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    with_types = sequences[0].token_type_ids is not None
    token_type_ids = torch.zeros((len(sequences), width), dtype=torch.long) if with_types else None
    for row, sequence in enumerate(sequences):
        n = len(sequence)
        input_ids[row, :n] = torch.tensor(sequence.input_ids)
        attention_mask[row, :n] = 1
        if token_type_ids is not None and sequence.token_type_ids is not None:
            token_type_ids[row, :n] = torch.tensor(sequence.token_type_ids)
    batch = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
    if token_type_ids is not None:
        batch["token_type_ids"] = token_type_ids.to(device)
    return batch


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int
) -> list[list[int]]:
    """Random batches of indices whose members have similar lengths; the same (seed, epoch) gives the same batches.

    Shuffle, cut into groups of GROUP_BATCHES batches, sort each group by length, cut into batches, shuffle the
    batches; the batch holding the longest example goes first so a memory limit shows on step 1, not hours in.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * GROUP_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), group):
        members = sorted(order[start : start + group], key=lambda i: lengths[i], reverse=True)
        batches.extend(members[k : k + batch_size] for k in range(0, len(members), batch_size))
    rng.shuffle(batches)
    longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
    batches[0], batches[longest] = batches[longest], batches[0]
    return batches


def shuffled_batches(count: int, batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """Plain random batches (no length grouping); the same (seed, epoch) gives the same batches."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(count))
    rng.shuffle(order)
    return [order[k : k + batch_size] for k in range(0, count, batch_size)]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches for inference: fully sorted by length, the least padding possible."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


@torch.no_grad()
def score_encoded(
    model: torch.nn.Module,
    sequences: Sequence[Encoded],
    *,
    pad_token_id: int,
    device: torch.device,
    batch_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> torch.Tensor:
    """Run `model` on every sequence (in length-sorted batches) and return (N, outputs) in input order, fp32 on CPU."""
    was_training = model.training
    model.eval()
    results: list[torch.Tensor | None] = [None] * len(sequences)
    for batch in sorted_batches([len(s) for s in sequences], batch_size):
        inputs = pad_batch([sequences[i] for i in batch], pad_token_id=pad_token_id, device=device)
        with autocast():
            scores = model(**inputs).float().cpu()
        for row, index in enumerate(batch):
            results[index] = scores[row]
    model.train(was_training)
    if not results:
        return torch.empty(0, 0)
    return torch.stack(results)  # type: ignore[arg-type]  # every slot is filled above


@dataclass(frozen=True)
class PackedBatch:
    """Several sequences per row, kept apart by a block-diagonal attention mask.

    `inputs` go to the backbone (input_ids, attention_mask as an additive (R, 1, C, C) float mask,
    position_ids restarting at 0 in every segment, token_type_ids); `segment_of_token` (R*C,) names the
    sequence each flattened position belongs to (N for padding); `first_token` and `lengths` (N,) locate each
    sequence, in input order.
    """

    inputs: dict[str, torch.Tensor]
    segment_of_token: torch.Tensor
    first_token: torch.Tensor
    lengths: torch.Tensor


def pack_batch(
    sequences: Sequence[Encoded], *, pad_token_id: int, device: torch.device
) -> PackedBatch:
    """Pack sequences into rows as long as the longest one (first-fit decreasing), so almost no position is
    padding. For an encoder with absolute positions this computes exactly what `pad_batch` does."""
    width = max(len(s) for s in sequences)
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(sequences)), key=lambda i: len(sequences[i]), reverse=True):
        size = len(sequences[index])
        row = next((r for r, free in enumerate(room) if free >= size), None)
        if row is None:
            rows.append([])
            room.append(width)
            row = len(rows) - 1
        rows[row].append(index)
        room[row] -= size
    count = len(sequences)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    token_type_ids = torch.zeros((len(rows), width), dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    segment = torch.full((len(rows), width), count, dtype=torch.long)
    first_token = torch.zeros(count, dtype=torch.long)
    lengths = torch.zeros(count, dtype=torch.long)
    for r, members in enumerate(rows):
        start = 0
        for index in members:
            sequence = sequences[index]
            end = start + len(sequence)
            input_ids[r, start:end] = torch.tensor(sequence.input_ids)
            if sequence.token_type_ids is not None:
                token_type_ids[r, start:end] = torch.tensor(sequence.token_type_ids)
            position_ids[r, start:end] = torch.arange(len(sequence))
            segment[r, start:end] = index
            first_token[index] = r * width + start
            lengths[index] = len(sequence)
            start = end
    # A token attends to the tokens of its own segment only; padding attends to itself to keep rows finite.
    same = segment[:, :, None] == segment[:, None, :]
    mask = torch.zeros(same.shape, dtype=torch.float32).masked_fill_(
        ~same, torch.finfo(torch.float32).min
    )
    inputs = {
        "input_ids": input_ids.to(device),
        "attention_mask": mask[:, None].to(device),
        "position_ids": position_ids.to(device),
    }
    if sequences[0].token_type_ids is not None:
        inputs["token_type_ids"] = token_type_ids.to(device)
    return PackedBatch(
        inputs=inputs,
        segment_of_token=segment.flatten().to(device),
        first_token=first_token.to(device),
        lengths=lengths.to(device),
    )
