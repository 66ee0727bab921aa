"""Held-out evaluation numbers, as pure functions of plain lists (no model code).

Ties count half everywhere a comparison is made, so a model that scores everything equally gets 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Fraction of pairs where the chosen response scores higher (ties count 0.5)."""
    if len(chosen) != len(rejected) or not chosen:
        raise ValueError("pairwise_accuracy needs two non-empty lists of equal length")
    wins = sum(
        1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True)
    )
    return wins / len(chosen)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties 0.5.

    Returns None when the labels hold only one class (the area is undefined).
    """
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    # Rank-sum (Mann-Whitney U) form: O(n log n) instead of comparing every pair.
    ordered = sorted((s, i) for i, s in enumerate(scores))
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1][0] == ordered[start][0]:
            end += 1
        average_rank = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[ordered[k][1]] = average_rank
        start = end + 1
    positive_rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    n_pos, n_neg = len(positives), len(negatives)
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def ndcg(scores: Sequence[float], ranks: Sequence[int]) -> float:
    """NDCG of the order given by `scores` (highest first) against graded relevance from `ranks`.

    Relevance grade g_i = R - rank_i (R = worst rank, so the worst item has grade 0);
    DCG = Σ_pos (2^g - 1) / log2(1 + pos). Returns 1.0 when every item ties (nothing to order).
    """
    worst = max(ranks)
    grades = [worst - r for r in ranks]

    def dcg(order: Sequence[int]) -> float:
        return sum((2.0 ** grades[i] - 1) / math.log2(pos + 2) for pos, i in enumerate(order))

    ideal = dcg(sorted(range(len(ranks)), key=lambda i: ranks[i]))
    if ideal == 0:
        return 1.0
    # Stable sort on -score: among tied scores the earlier item comes first, deterministically.
    predicted = sorted(range(len(scores)), key=lambda i: -scores[i])
    return dcg(predicted) / ideal


def kendall_tau(scores: Sequence[float], ranks: Sequence[int]) -> float | None:
    """Kendall's tau-b between the scores and the human ranking (1 = best), in [-1, 1].

    Agreement means a better-ranked item has the higher score. Returns None when either side is all ties.
    """
    concordant = discordant = ties_score = ties_rank = 0
    n = len(scores)
    for i in range(n):
        for j in range(i + 1, n):
            ds = scores[i] - scores[j]
            dr = ranks[j] - ranks[i]  # positive when i is ranked better
            if ds == 0 and dr == 0:
                continue
            if ds == 0:
                ties_score += 1
            elif dr == 0:
                ties_rank += 1
            elif (ds > 0) == (dr > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt(
        (concordant + discordant + ties_score) * (concordant + discordant + ties_rank)
    )
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


def mean_token_kl(
    policy_logps: torch.Tensor, reference_logps: torch.Tensor, mask: torch.Tensor
) -> float:
    """Mean per-token KL(π ‖ π_ref) estimate from tokens sampled from π.

    KL ≈ Σ_t m_t · (log π(y_t) - log π_ref(y_t)) / Σ_t m_t   (the unbiased "k1" estimator)

    policy_logps, reference_logps: (B, T) log-probabilities of the sampled tokens; mask: (B, T) bool/0-1 for
    real completion tokens. Returns a Python float (0.0 when there are no tokens).
    """
    weights = mask.to(policy_logps.dtype)
    total = weights.sum()
    if total == 0:
        return 0.0
    return float(((policy_logps - reference_logps) * weights).sum() / total)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; raises on an empty sequence rather than returning a made-up 0."""
    if not values:
        raise ValueError("mean of an empty sequence")
    return sum(values) / len(values)
