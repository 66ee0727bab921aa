"""Held-out evaluation numbers, as pure functions of plain lists (no model code).

Ties count half everywhere a comparison is made, so a model that scores everything equally gets 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Fraction of pairs where the chosen response scores higher (ties count 0.5)."""
    if len(chosen) != len(rejected) or not chosen:
        raise ValueError("pairwise_accuracy needs two non-empty lists of equal length")
    wins = sum(
        1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True)
    )
    return wins / len(chosen)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram: predictions in [lower, upper), their mean and the observed rate."""

    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    observed: float | None


def reliability_bins(
    probabilities: Sequence[float], outcomes: Sequence[bool], *, bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1] (the last one closed); a probability of exactly 1 falls in the last bin.

    Empty bins are kept (count 0, means None) so every diagram has the same x axis.
    """
    if len(probabilities) != len(outcomes):
        raise ValueError("reliability_bins needs as many outcomes as probabilities")
    members: list[list[int]] = [[] for _ in range(bins)]
    for index, p in enumerate(probabilities):
        members[min(int(p * bins), bins - 1)].append(index)
    result = []
    for k, indices in enumerate(members):
        count = len(indices)
        result.append(
            ReliabilityBin(
                lower=k / bins,
                upper=(k + 1) / bins,
                count=count,
                mean_predicted=sum(probabilities[i] for i in indices) / count if count else None,
                observed=sum(1.0 for i in indices if outcomes[i]) / count if count else None,
            )
        )
    return result


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """ECE = Σ_k (n_k / N) · |observed_k - mean_predicted_k| over the non-empty bins."""
    total = sum(b.count for b in bins)
    if total == 0:
        raise ValueError("expected_calibration_error of no predictions")
    return sum(
        b.count / total * abs(b.observed - b.mean_predicted)  # type: ignore[operator]
        for b in bins
        if b.count
    )


def pairwise_calibration(
    gaps: Sequence[float], *, bins: int = 10
) -> tuple[float, list[dict[str, float | int | None]]]:
    """ECE and reliability diagram of P(chosen ≻ rejected) = sigmoid(r_c - r_r) on held-out pairs.

    A pair's order on the page is arbitrary, so each pair counts both ways: (p, chosen won) and
    (1 - p, rejected won). The diagram is then symmetric about 0.5 and a model that always says 0.5 is
    perfectly calibrated (and useless: accuracy tells that part). Returns (ece, bins as dicts).
    """
    probabilities = [1 / (1 + math.exp(-g)) for g in gaps]
    both_ways = probabilities + [1 - p for p in probabilities]
    outcomes = [True] * len(probabilities) + [False] * len(probabilities)
    diagram = reliability_bins(both_ways, outcomes, bins=bins)
    return expected_calibration_error(diagram), [asdict(b) for b in diagram]


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
