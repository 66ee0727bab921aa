"""Every loss against numbers worked by hand (natural logs; sigmoid(x) = 1 / (1 + e^-x))."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.losses import (
    bradley_terry_loss,
    lipo_lambda_loss,
    lipo_policy_loss,
    plackett_luce_loss,
    rank_relevance,
)


def test_bradley_terry_is_mean_negative_log_sigmoid_of_reward_gap():
    # Pair 1: gap 2 - 0 = 2   -> -log sigmoid(2)  = log(1 + e^-2) = 0.126928
    # Pair 2: gap 0 - 1 = -1  -> -log sigmoid(-1) = log(1 + e^1)  = 1.313262
    # Mean: (0.126928 + 1.313262) / 2 = 0.720095
    loss = bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0]))
    assert loss.item() == pytest.approx(0.720095, abs=1e-6)


def test_bradley_terry_subtracts_the_margin_inside_the_sigmoid():
    # Gap 2 with margin 1.5 -> -log sigmoid(0.5) = log(1 + e^-0.5) = log(1.606531) = 0.474077
    loss = bradley_terry_loss(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([1.5]))
    assert loss.item() == pytest.approx(0.474077, abs=1e-6)


def test_rank_relevance_maps_best_to_one_and_worst_to_zero():
    # Ranks [1, 2, 3] -> R = 3 -> ψ = (3 - r) / 2 = [1, 0.5, 0]; ties [1, 1, 2] -> R = 2 -> ψ = [1, 1, 0].
    ranks = torch.tensor([[1, 2, 3], [1, 1, 2]])
    relevance = rank_relevance(ranks, torch.ones_like(ranks, dtype=torch.bool))
    assert relevance.tolist() == [[1.0, 0.5, 0.0], [1.0, 1.0, 0.0]]


def test_lipo_lambda_loss_by_hand_on_a_three_item_list():
    # s = [1, 0, 2], ranks [1, 2, 3].
    # ψ = [1, 0.5, 0]; G = 2^ψ - 1 = [1, 0.414214, 0].
    # Current order by score: item 3 (s=2) first, item 1 second, item 2 third -> τ = [2, 3, 1].
    # 1/D(τ) = 1/log2(1+τ) = [1/log2 3, 1/log2 4, 1/log2 2] = [0.630930, 0.5, 1].
    # Pair (1≻2): Δ = |1 - 0.414214| * |0.630930 - 0.5|   = 0.585786 * 0.130930 = 0.076697
    #             loss term Δ * log(1 + e^-(1-0)) = 0.076697 * 0.313262 = 0.024026
    # Pair (1≻3): Δ = |1 - 0| * |0.630930 - 1|            = 0.369070
    #             0.369070 * log(1 + e^-(1-2)) = 0.369070 * 1.313262 = 0.484686
    # Pair (2≻3): Δ = |0.414214 - 0| * |0.5 - 1|          = 0.207107
    #             0.207107 * log(1 + e^-(0-2)) = 0.207107 * 2.126928 = 0.440502
    # Sum: 0.949214
    loss = lipo_lambda_loss(torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[1, 2, 3]]))
    assert loss.item() == pytest.approx(0.949214, abs=1e-5)


def test_lipo_lambda_loss_ignores_padded_items_and_tied_pairs():
    # Padding: the 4th item is masked, so the value equals the unpadded list's 0.949214.
    padded = lipo_lambda_loss(
        torch.tensor([[1.0, 0.0, 2.0, 9.0]]),
        torch.tensor([[1, 2, 3, 1]]),
        torch.tensor([[True, True, True, False]]),
    )
    assert padded.item() == pytest.approx(0.949214, abs=1e-5)
    # Ties: ranks [1, 1] form no pair -> loss 0.
    tied = lipo_lambda_loss(torch.tensor([[0.3, -0.2]]), torch.tensor([[1, 1]]))
    assert tied.item() == 0.0


def test_lipo_lambda_loss_averages_over_lists():
    # Two-item list s = [0, 0], ranks [1, 2]: ψ = [1, 0], G = [1, 0]; equal scores keep index order, τ = [1, 2];
    # 1/D = [1, 1/log2 3 = 0.630930]; Δ = 1 * 0.369070; term = 0.369070 * log 2 = 0.255819.
    # Mean with the three-item list above: (0.949214 + 0.255819) / 2 = 0.602517
    scores = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    ranks = torch.tensor([[1, 2, 3], [1, 2, 1]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert lipo_lambda_loss(scores, ranks, mask).item() == pytest.approx(0.602517, abs=1e-5)


def test_plackett_luce_by_hand_without_ties():
    # s = [1, 0, 2], ranks [1, 2, 3] (true order: item 1, item 2, item 3).
    # Term 1: 1 - log(e^1 + e^0 + e^2) = 1 - log(11.107338) = 1 - 2.407606 = -1.407606
    # Term 2: 0 - log(e^0 + e^2)       = -log(8.389056)     = -2.126928
    # Term 3: 2 - log(e^2)             = 0
    # Loss = 1.407606 + 2.126928 = 3.534534
    loss = plackett_luce_loss(torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[1, 2, 3]]))
    assert loss.item() == pytest.approx(3.534534, abs=1e-5)


def test_plackett_luce_uses_breslow_risk_sets_for_ties():
    # s = [0, 0, 0], ranks [1, 1, 2]: items 1 and 2 tie.
    # Items 1, 2: risk set is all three -> each term 0 - log 3 = -1.098612
    # Item 3: risk set {3} -> 0
    # Loss = 2 * 1.098612 = 2.197225
    loss = plackett_luce_loss(torch.zeros(1, 3), torch.tensor([[1, 1, 2]]))
    assert loss.item() == pytest.approx(2.197225, abs=1e-5)


def test_lipo_policy_loss_scores_with_beta_times_log_ratio():
    # log π - log π_ref = [-1 + 3, -3 + 3, 0 + 4] = [2, 0, 4]; β = 0.5 -> s = [1, 0, 2]: the 0.949214 list above.
    loss = lipo_policy_loss(
        torch.tensor([[-1.0, -3.0, 0.0]]),
        torch.tensor([[-3.0, -3.0, -4.0]]),
        torch.tensor([[1, 2, 3]]),
        beta=0.5,
    )
    assert loss.item() == pytest.approx(0.949214, abs=1e-5)


def test_listwise_losses_push_the_better_item_up():
    scores = torch.zeros(1, 3, requires_grad=True)
    for loss_fn in (lipo_lambda_loss, plackett_luce_loss):
        scores.grad = None
        loss_fn(scores, torch.tensor([[1, 2, 3]])).backward()
        gradient = scores.grad[0]
        # Gradient descent raises the best item's score and lowers the worst one's.
        assert gradient[0] < 0 < gradient[2]
    assert math.isfinite(float(gradient.sum()))
