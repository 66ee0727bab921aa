"""Work per trained pair on the hard set: TRL's batches against ours, counted, not timed.

    python bench/training/bench_work.py [--seeds 3] [--train-pairs 1200]

On a loaded, shared machine wall-clock speed swings with whatever else runs; the arithmetic a training step
does does not. This counts the forward-pass FLOPs of MiniLM (6 layers, hidden 384, feed-forward 1536) for one
epoch of `make bench-training`'s hard training sets, per trained pair, as each side lays its batches out:

- TRL: prompt + response + [SEP] as one text, pairs over max_length dropped, random batches of 16 pairs,
  chosen and rejected padded together to the batch's longest sequence (its collator);
- ours, packed: length-grouped batches (trainer/reward/batching.py), each batch's sequences packed into rows
  as long as its longest, every layer computing every position of every row;
- ours, unpadded (trainer/reward/unpadded.py): linear layers on the real tokens only, attention over the
  packed rows, and in the last layer keys and values for every token but the rest for first tokens only.

Per layer and token, the linear layers cost 2·12·H² FLOPs (Q, K, V, O: 4H²; feed-forward: 8H²) and
attention 4·C·H for a row of C positions. The backward pass costs about twice the forward on each side.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.training.bench_training import HYPERPARAMETERS
from bench.training.hard import make_hard_pairs

HIDDEN, LAYERS = 384, 6


def linear_flops(tokens: int) -> int:
    return 2 * tokens * 12 * HIDDEN * HIDDEN


def attention_flops(rows: int, width: int) -> int:
    return 4 * rows * width * width * HIDDEN


def trl_flops_per_pair(tokenizer, rows: list[dict], *, seed: int) -> tuple[float, int]:
    """(forward FLOPs per kept pair, pairs kept) as TRL's RewardTrainer lays the rows out."""
    max_length, batch = HYPERPARAMETERS["max_length"], HYPERPARAMETERS["batch_size"]
    chosen = tokenizer([r["prompt"] + r["chosen"] + "[SEP]" for r in rows])["input_ids"]
    rejected = tokenizer([r["prompt"] + r["rejected"] + "[SEP]" for r in rows])["input_ids"]
    kept = [
        i
        for i in range(len(rows))
        if len(chosen[i]) <= max_length and len(rejected[i]) <= max_length
    ]
    random.Random(seed).shuffle(kept)
    total = 0
    for start in range(0, len(kept), batch):
        members = kept[start : start + batch]
        width = max(max(len(chosen[i]), len(rejected[i])) for i in members)
        sequences = 2 * len(members)
        total += LAYERS * (linear_flops(sequences * width) + attention_flops(sequences, width))
    return total / len(kept), len(kept)


def ours_flops_per_pair(tokenizer, rows: list[dict], *, seed: int) -> tuple[float, float]:
    """(packed, unpadded) forward FLOPs per pair as our reward runner lays the rows out."""
    import torch

    from trainer.config import RewardPairwiseConfig
    from trainer.reward.batching import length_grouped_batches, pack_batch
    from trainer.reward.pairwise import PairwiseTask

    config = RewardPairwiseConfig(
        batch_size=HYPERPARAMETERS["batch_size"], max_length=HYPERPARAMETERS["max_length"]
    )
    examples = PairwiseTask(config, tokenizer).encode(rows)
    batches = length_grouped_batches(
        [e.length for e in examples], config.batch_size, seed=seed, epoch=0
    )
    packed_total = unpadded_total = 0
    for members in batches:
        sequences = [s for i in members for s in examples[i].sequences]
        packed = pack_batch(sequences, pad_token_id=0, device=torch.device("cpu"))
        row_count, width = packed.inputs["input_ids"].shape
        tokens, count = sum(len(s) for s in sequences), len(sequences)
        attention = attention_flops(row_count, width)
        packed_total += LAYERS * (linear_flops(row_count * width) + attention)
        last_layer = (
            2 * tokens * 2 * HIDDEN * HIDDEN  # keys and values for every token
            + 2 * count * 10 * HIDDEN * HIDDEN  # query, output and feed-forward for first tokens
            + 4 * count * width * HIDDEN  # one query row per sequence
        )
        unpadded_total += (LAYERS - 1) * (linear_flops(tokens) + attention) + last_layer
    return packed_total / len(rows), unpadded_total / len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-pairs", type=int, default=1200)
    parser.add_argument("--flip-rate", type=float, default=0.1)
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from trainer.reward.model import default_backbone

    tokenizer = AutoTokenizer.from_pretrained(default_backbone())
    ratios_packed, ratios_unpadded = [], []
    for seed in range(args.seeds):
        rows = make_hard_pairs(args.train_pairs, seed=100 + 2 * seed, flip_rate=args.flip_rate)
        trl, kept = trl_flops_per_pair(tokenizer, rows, seed=seed)
        packed, unpadded = ours_flops_per_pair(tokenizer, rows, seed=seed)
        ratios_packed.append(trl / packed)
        ratios_unpadded.append(trl / unpadded)
        print(
            f"seed {seed}: forward GFLOP per trained pair: trl {trl / 1e9:.2f} ({kept} of "
            f"{len(rows)} pairs kept), ours packed {packed / 1e9:.2f}, ours unpadded "
            f"{unpadded / 1e9:.2f}",
            flush=True,
        )
    print(
        f"work_ratio_trl_over_packed={statistics.mean(ratios_packed):.2f} "
        f"work_ratio_trl_over_unpadded={statistics.mean(ratios_unpadded):.2f} seeds={args.seeds}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
