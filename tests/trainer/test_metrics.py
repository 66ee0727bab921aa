"""Evaluation metrics against values worked by hand."""

from __future__ import annotations

import pytest
import torch

from trainer.metrics import auroc, kendall_tau, mean_token_kl, ndcg, pairwise_accuracy


def test_pairwise_accuracy_counts_ties_as_half():
    # Pairs: 2>1 win, 0<1 loss, 3=3 tie -> (1 + 0 + 0.5) / 3 = 0.5
    assert pairwise_accuracy([2.0, 0.0, 3.0], [1.0, 1.0, 3.0]) == pytest.approx(0.5)


def test_auroc_is_the_share_of_positive_negative_pairs_ordered_right():
    # Positives {0.35, 0.8}, negatives {0.1, 0.4}: pairs (0.35>0.1 ✓, 0.35>0.4 ✗, 0.8>0.1 ✓, 0.8>0.4 ✓) = 3/4.
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    # A tie between a positive and a negative counts half: (0.5 + 1) / 2 = 0.75.
    assert auroc([0.5, 0.5, 0.9], [True, False, True]) == pytest.approx(0.75)
    assert auroc([0.1, 0.2], [True, True]) is None


def test_ndcg_of_a_reversed_list():
    # Ranks [1, 2, 3] -> grades [2, 1, 0] -> gains [3, 1, 0].
    # Ideal DCG = 3/log2 2 + 1/log2 3 = 3 + 0.630930 = 3.630930.
    # Scores [1, 2, 3] put item 3 first, then 2, then 1: DCG = 0 + 1/log2 3 + 3/log2 4 = 2.130930.
    # NDCG = 2.130930 / 3.630930 = 0.586883
    assert ndcg([1.0, 2.0, 3.0], [1, 2, 3]) == pytest.approx(0.586883, abs=1e-6)
    assert ndcg([3.0, 2.0, 1.0], [1, 2, 3]) == pytest.approx(1.0)


def test_kendall_tau_b_with_a_tie_in_the_ranks():
    # Perfect agreement and perfect disagreement.
    assert kendall_tau([3.0, 2.0, 1.0], [1, 2, 3]) == pytest.approx(1.0)
    assert kendall_tau([1.0, 2.0, 3.0], [1, 2, 3]) == pytest.approx(-1.0)
    # Ranks [1, 1, 2], scores [3, 2, 1]: pair (1,2) ties in rank; (1,3), (2,3) concordant.
    # tau-b = (2 - 0) / sqrt((2 + 0 + 0) * (2 + 0 + 1)) = 2 / sqrt(6) = 0.816497
    assert kendall_tau([3.0, 2.0, 1.0], [1, 1, 2]) == pytest.approx(0.816497, abs=1e-6)


def test_mean_token_kl_averages_log_ratios_over_real_tokens():
    # Real tokens: row 1 (0.5 - 0.2), (0.1 - 0.4); row 2 (1.0 - 0.0). Masked token ignored.
    # (0.3 - 0.3 + 1.0) / 3 = 0.333333
    policy = torch.tensor([[0.5, 0.1], [1.0, 9.0]])
    reference = torch.tensor([[0.2, 0.4], [0.0, 0.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    assert mean_token_kl(policy, reference, mask) == pytest.approx(0.333333, abs=1e-6)
