"""Per-task aggregation, worked by hand."""

import math

import pytest

from apps.exports.aggregate import binary_majority, mean_ranks, pair_verdict


def test_majority_needs_more_votes_for_one_side():
    verdict = pair_verdict(
        [("B", "much"), ("B", "slightly"), ("A", "much"), ("tie", None)], "majority"
    )
    assert (verdict.winner, verdict.margin) == (1, 3.0)  # mean of much (4) and slightly (2)
    assert (
        pair_verdict([("tie", None), ("both_bad", None)], "majority").skip_reason == "no_preference"
    )


def test_mean_strength_weighs_strength_and_counts_ties_as_zero():
    verdict = pair_verdict(
        [("A", "negligibly"), ("tie", None), ("B", "much"), ("both_bad", None)], "mean_strength"
    )
    assert verdict.winner == 1 and verdict.margin == pytest.approx((4 - 1) / 3, abs=1e-6)
    assert pair_verdict([("A", "clearly"), ("B", "clearly")], "mean_strength").winner is None


def test_bradley_terry_margin_is_the_smoothed_log_odds():
    verdict = pair_verdict([("A", "much")] * 3 + [("tie", None)], "bradley_terry")
    assert verdict.winner == 0
    assert verdict.margin == pytest.approx(math.log((3.5 + 0.5) / (0.5 + 0.5)), abs=1e-6)


def test_binary_majority_and_its_tie():
    assert binary_majority([True, True, False]) is True
    assert binary_majority([True, False]) is None


def test_mean_ranks_are_dense_and_keep_ties():
    assert mean_ranks([[1, 2, 3], [3, 2, 1]]) == [1, 1, 1]
    assert mean_ranks([[1, 2, 2], [1, 3, 2]]) == [1, 3, 2]
