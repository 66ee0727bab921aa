"""Soft labels from several annotators, the soft Bradley-Terry loss and calibration, against hand-worked numbers."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.config import RewardPairwiseConfig, parse_config
from trainer.data import load_rows
from trainer.errors import ConfigError, DatasetError
from trainer.labels import row_preference, smoothed, vote_share
from trainer.losses import bradley_terry_loss, soft_bradley_terry_loss
from trainer.metrics import expected_calibration_error, pairwise_calibration, reliability_bins


def test_vote_share_counts_votes_and_half_of_each_tie():
    # 2 for chosen, 1 for rejected, 1 tie: (2 + 0.5) / 4
    assert vote_share(votes_chosen=2, votes_rejected=1, votes_tie=1) == pytest.approx(0.625)


def test_vote_share_weighs_votes_by_their_strength_when_both_sides_have_one():
    # strengths 2 + 3 for chosen, 1 for rejected, 1 tie: (5 + 0.5) / (5 + 1 + 1) = 5.5 / 7
    share = vote_share(
        votes_chosen=2, votes_rejected=1, votes_tie=1, strength_chosen=5, strength_rejected=1
    )
    assert share == pytest.approx(5.5 / 7)


def test_a_unanimous_pair_is_a_hard_label_and_no_votes_is_no_label():
    assert vote_share(votes_chosen=3, votes_rejected=0) == 1.0
    assert vote_share(votes_chosen=0, votes_rejected=0) is None


def test_a_row_from_the_aggregated_export_gives_its_vote_share_and_a_plain_row_none():
    row = {"prompt": "p", "chosen": "a", "rejected": "b", "votes_chosen": 3, "votes_rejected": 1}
    assert row_preference(row) == pytest.approx(0.75)
    assert row_preference({"prompt": "p", "chosen": "a", "rejected": "b"}) is None


def test_label_smoothing_moves_the_target_towards_the_other_side_by_epsilon():
    assert smoothed(1.0, 0.1) == pytest.approx(0.9)
    assert smoothed(0.75, 0.1) == pytest.approx(0.9 * 0.75 + 0.1 * 0.25)


def test_soft_bradley_terry_matches_hand_worked_values():
    chosen, rejected = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])
    target = torch.tensor([0.75, 1.0])
    # pair 1: d = 1 -> -(0.75 log σ(1) + 0.25 log σ(-1)); pair 2: d = 0 -> log 2
    first = -(0.75 * math.log(1 / (1 + math.exp(-1))) + 0.25 * math.log(1 / (1 + math.exp(1))))
    second = math.log(2)
    assert float(soft_bradley_terry_loss(chosen, rejected, target)) == pytest.approx(
        (first + second) / 2, rel=1e-6
    )
    weighted = soft_bradley_terry_loss(chosen, rejected, target, weight=torch.tensor([3.0, 1.0]))
    assert float(weighted) == pytest.approx((3 * first + second) / 4, rel=1e-6)


def test_soft_bradley_terry_with_hard_labels_is_bradley_terry():
    chosen, rejected = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.1, 0.4, -0.5])
    margin = torch.tensor([0.0, 0.5, 1.0])
    assert float(
        soft_bradley_terry_loss(chosen, rejected, torch.ones(3), margin=margin)
    ) == pytest.approx(float(bradley_terry_loss(chosen, rejected, margin)), rel=1e-6)


def test_reliability_bins_and_ece_match_hand_worked_values():
    bins = reliability_bins([0.1, 0.15, 0.9, 1.0], [False, True, True, True], bins=2)
    assert [b.count for b in bins] == [2, 2]
    assert bins[0].mean_predicted == pytest.approx(0.125)
    assert bins[0].observed == pytest.approx(0.5)
    assert bins[1].mean_predicted == pytest.approx(0.95)
    assert bins[1].observed == pytest.approx(1.0)
    # 2/4 · |0.5 - 0.125| + 2/4 · |1 - 0.95|
    assert expected_calibration_error(bins) == pytest.approx(0.1875 + 0.025)


def test_pairwise_ece_counts_each_pair_both_ways():
    # gaps 0 and ln 3: P = 0.5 and 0.75; both ways: (0.5, won), (0.75, won), (0.5, lost), (0.25, lost).
    # Bin [0.5, 0.6): mean 0.5, observed 0.5; bin [0.7, 0.8): 0.75 vs 1; bin [0.2, 0.3): 0.25 vs 0.
    ece, bins = pairwise_calibration([0.0, math.log(3)], bins=10)
    assert ece == pytest.approx(0.25 * 0.25 + 0.25 * 0.25)
    assert [b["count"] for b in bins] == [0, 0, 1, 0, 0, 2, 0, 1, 0, 0]
    assert bins[7]["observed"] == 1.0 and bins[2]["observed"] == 0.0


def test_noise_options_are_checked():
    with pytest.raises(ConfigError, match="label_smoothing"):
        parse_config(RewardPairwiseConfig, {"label_smoothing": 0.5})
    with pytest.raises(ConfigError, match="adaptive_margin needs an ensemble"):
        parse_config(RewardPairwiseConfig, {"adaptive_margin": 1.0})
    with pytest.raises(ConfigError, match="ensemble_size"):
        parse_config(RewardPairwiseConfig, {"ensemble_size": 1})


def test_negative_vote_counts_are_rejected_with_the_row_named(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        '{"prompt": "p", "chosen": "a", "rejected": "b", "votes_chosen": -1, "votes_rejected": 0}\n'
        * 4
    )
    with pytest.raises(DatasetError, match="row 1: column 'votes_chosen' must be a number >= 0"):
        load_rows("pairwise", path)
