"""Losses TRL does not provide, as pure functions of tensors.

Every function here is differentiable in its score arguments, reads no global state and is tested against
numbers worked by hand in tests/trainer/test_losses.py. Shapes: B = batch (pairs or lists), K = list length
(padded; `mask` marks the real items).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    """Bradley-Terry pairwise loss, mean over the batch.

    loss = mean_b[ -log sigmoid(r_c[b] - r_r[b] - m[b]) ]

    chosen, rejected: (B,) rewards of the preferred and the other response.
    margin: (B,) required reward gap m (from annotated preference strength), or None for m = 0.
    Returns a scalar.
    """
    difference = chosen - rejected
    if margin is not None:
        difference = difference - margin
    return -F.logsigmoid(difference).mean()


def soft_bradley_terry_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bradley-Terry loss towards a soft label, weighted mean over the batch.

    d[b] = r_c[b] - r_r[b] - m[b]
    loss = Σ_b w[b] · ( -p[b] log sigmoid(d[b]) - (1 - p[b]) log sigmoid(-d[b]) ) / Σ_b w[b]

    chosen, rejected: (B,) rewards. target: (B,) p = P(chosen ≻ rejected) the model should learn (1 is the
    hard label of `bradley_terry_loss`; label smoothing ε makes it 1 - ε; annotators' votes make it their
    share). margin: (B,) required reward gap m, or None for 0. weight: (B,) non-negative pair weights, or
    None for 1 each. Returns a scalar.
    """
    difference = chosen - rejected
    if margin is not None:
        difference = difference - margin
    per_pair = -(target * F.logsigmoid(difference) + (1 - target) * F.logsigmoid(-difference))
    if weight is None:
        return per_pair.mean()
    return (weight * per_pair).sum() / weight.sum().clamp(min=1e-12)


def rank_relevance(ranks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Map ranks (1 = best, ties allowed) to relevance ψ in [0, 1], per list.

    ψ_i = (R - rank_i) / (R - 1), where R is the list's worst rank; a list whose items all tie gets ψ = 0.
    ranks: (B, K) integers; mask: (B, K) bool. Returns (B, K) float, 0 where masked.
    """
    ranks = ranks.to(torch.float32)
    worst = torch.where(mask, ranks, torch.zeros_like(ranks)).amax(dim=1, keepdim=True)
    spread = (worst - 1).clamp(min=1)
    relevance = (worst - ranks) / spread
    return torch.where(mask, relevance, torch.zeros_like(relevance))


def lipo_lambda_loss(
    scores: torch.Tensor, ranks: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """LiPO-λ listwise loss (LambdaRank weights on a pairwise logistic loss), mean over lists.

    loss_list = Σ_{i ≻ j} Δ_ij · log(1 + exp(-(s_i - s_j)))
    Δ_ij = |G_i - G_j| · |1/D(τ_i) - 1/D(τ_j)|,  G = 2^ψ - 1,  D(τ) = log2(1 + τ)

    where i ≻ j means rank_i < rank_j, ψ is `rank_relevance(ranks)`, and τ_i is item i's 1-based position when
    the list is sorted by the current scores, highest first (the weights carry no gradient).

    scores: (B, K) float scores s (a reward model's outputs, or β·log π/π_ref for a policy).
    ranks: (B, K) integer ranks, 1 = best, ties allowed (tied items form no pair).
    mask: (B, K) bool, True for real items; None means all real.
    Returns a scalar.
    """
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    with torch.no_grad():
        gain = torch.pow(2.0, rank_relevance(ranks, mask)) - 1
        # Padded items sort last so they never push a real item down the list.
        sortable = torch.where(mask, scores.detach(), torch.full_like(scores, float("-inf")))
        order = sortable.argsort(dim=1, descending=True, stable=True)
        position = torch.empty_like(order)
        position.scatter_(
            1, order, torch.arange(1, scores.shape[1] + 1, device=scores.device).expand_as(order)
        )
        inverse_discount = 1.0 / torch.log2(1.0 + position.to(scores.dtype))
        delta = (gain[:, :, None] - gain[:, None, :]).abs() * (
            inverse_discount[:, :, None] - inverse_discount[:, None, :]
        ).abs()
        better = (ranks[:, :, None] < ranks[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    pair_loss = F.softplus(-(scores[:, :, None] - scores[:, None, :]))
    per_list = (delta * pair_loss * better).sum(dim=(1, 2))
    return per_list.mean()


def plackett_luce_loss(
    scores: torch.Tensor, ranks: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Plackett-Luce negative log-likelihood of the ranking, mean over lists (Breslow's rule for ties).

    loss_list = - Σ_i [ s_i - log Σ_{j : rank_j ≥ rank_i} exp(s_j) ]

    Each item competes with every item ranked no better than itself, tied ones included; without ties this is
    the exact Plackett-Luce likelihood (the last item's term is 0).

    scores: (B, K) float; ranks: (B, K) integers, 1 = best; mask: (B, K) bool or None.
    Returns a scalar.
    """
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    competes = (ranks[:, None, :] >= ranks[:, :, None]) & mask[
        :, None, :
    ]  # [b, i, j]: j in i's risk set
    expanded = scores[:, None, :].expand(-1, scores.shape[1], -1)
    log_denominator = torch.logsumexp(expanded.masked_fill(~competes, float("-inf")), dim=2)
    terms = torch.where(mask, scores - log_denominator, torch.zeros_like(scores))
    return -terms.sum(dim=1).mean()


def lipo_policy_loss(
    policy_logps: torch.Tensor,
    reference_logps: torch.Tensor,
    ranks: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    beta: float,
) -> torch.Tensor:
    """LiPO-λ for a policy: `lipo_lambda_loss` on the implicit rewards s = β · (log π(y|x) - log π_ref(y|x)).

    policy_logps, reference_logps: (B, K) summed log-probabilities of each response under the policy and the
    frozen reference. ranks, mask: as in `lipo_lambda_loss`. Returns a scalar.
    """
    return lipo_lambda_loss(beta * (policy_logps - reference_logps), ranks, mask)
