"""On data with 30% of its labels flipped, the noise-robust option (a cross-fitted ensemble that
down-weights likely-flipped pairs, with an adaptive margin) trains a more accurate reward model than
plain Bradley-Terry, on the same data and seeds."""

from __future__ import annotations

import random

from tests.trainer import tiny
from trainer import train

SEEDS = (0, 1)
# Several epochs over few pairs: enough for plain Bradley-Terry to learn the flipped labels too.
CONFIG = {
    "learning_rate": 3e-3,
    "batch_size": 8,
    "num_epochs": 8,
    "num_threads": 2,
    "save_steps": 0,
}


def flip_labels(rows: list[dict], *, rate: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    for row in rows:
        if rng.random() < rate:
            row["chosen"], row["rejected"] = row["rejected"], row["chosen"]
    return rows


def test_a_run_on_30_percent_flipped_labels_does_better_with_the_noise_robust_option(
    tmp_path, write_rows, tiny_bert
):
    train_path = write_rows("train", flip_labels(tiny.pairwise_rows(64, seed=3), rate=0.3, seed=4))
    eval_path = write_rows("test", tiny.pairwise_rows(128, seed=5))

    def accuracy(options: dict, seed: int) -> float:
        result = train(
            objective="reward_pairwise",
            config={**CONFIG, "model": str(tiny_bert), "seed": seed, **options},
            train_path=train_path,
            eval_path=eval_path,
            output_dir=tmp_path / f"{len(options)}-{seed}",
        )
        return result.metrics["pairwise_accuracy"]

    plain = [accuracy({}, seed) for seed in SEEDS]
    robust = [accuracy({"ensemble_size": 2, "adaptive_margin": 0.5}, seed) for seed in SEEDS]

    assert sum(robust) > sum(plain), f"robust {robust} vs plain {plain}"
