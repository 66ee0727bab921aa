"""Turning the several judgments of one task into one training row. Pure functions.

Pairwise (a task is one pair, A = position 0, B = position 1; each vote is (choice, strength)):
- majority: the response with more A/B votes wins (tie and both_bad votes abstain); equal
  counts make no pair. margin = mean strength step (1..4) of the winner's votes.
- mean_strength: s = mean over the A, B and tie votes of +step (A), -step (B), 0 (tie);
  both_bad votes are left out, an A/B vote of unknown strength (imported) counts as step 1.
  s > 0: A wins, s < 0: B wins, s = 0: no pair. margin = |s| (strength steps, 0..4).
- bradley_terry: for a single pair the Bradley-Terry maximum-likelihood score gap is the log
  odds of the wins; with ties as half a win each and half a pseudo-win per side (so that a
  unanimous pair has a finite gap): d = ln((w_A + 0.5) / (w_B + 0.5)). d > 0: A wins,
  d < 0: B wins, d = 0: no pair. margin = |d| in logits (not strength steps).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from apps.feedback.payloads import strength_step

PAIR_METHODS = ("majority", "mean_strength", "bradley_terry")


@dataclass(frozen=True)
class PairVerdict:
    winner: int | None  # 0 = A, 1 = B, None = no pair
    margin: float | None
    skip_reason: str | None = None
    votes: dict = field(default_factory=dict)


def _counts(votes: Sequence[tuple[str, str | None]]) -> dict:
    counts = {"A": 0, "B": 0, "tie": 0, "both_bad": 0}
    for choice, _ in votes:
        counts[choice] = counts.get(choice, 0) + 1
    return counts


def _no_pair(counts: dict) -> PairVerdict:
    reason = "no_majority" if counts["A"] or counts["B"] else "no_preference"
    return PairVerdict(winner=None, margin=None, skip_reason=reason, votes=counts)


def pair_verdict(votes: Sequence[tuple[str, str | None]], method: str) -> PairVerdict:
    """The pair's winner and margin by `method` (one of PAIR_METHODS)."""
    counts = _counts(votes)
    if method == "majority":
        if counts["A"] == counts["B"]:
            return _no_pair(counts)
        winner = 0 if counts["A"] > counts["B"] else 1
        steps = [strength_step(s) for c, s in votes if c == "AB"[winner] and strength_step(s)]
        margin = round(sum(steps) / len(steps), 6) if steps else None
        return PairVerdict(winner=winner, margin=margin, votes=counts)
    if method == "mean_strength":
        signed = [
            (strength_step(s) or 1) * (1 if c == "A" else -1) if c in ("A", "B") else 0
            for c, s in votes
            if c != "both_bad"
        ]
        mean = sum(signed) / len(signed) if signed else 0.0
        if mean == 0:
            return _no_pair(counts)
        return PairVerdict(winner=0 if mean > 0 else 1, margin=round(abs(mean), 6), votes=counts)
    if method == "bradley_terry":
        wins_a = counts["A"] + counts["tie"] / 2
        wins_b = counts["B"] + counts["tie"] / 2
        gap = math.log((wins_a + 0.5) / (wins_b + 0.5))
        if gap == 0:
            return _no_pair(counts)
        return PairVerdict(winner=0 if gap > 0 else 1, margin=round(abs(gap), 6), votes=counts)
    raise ValueError(f"unknown pair aggregate {method!r}")


def binary_majority(labels: Sequence[bool]) -> bool | None:
    """True or False by majority; None when the votes are split evenly (or there are none)."""
    yes = sum(1 for label in labels if label)
    no = len(labels) - yes
    if yes == no:
        return None
    return yes > no


def mean_ranks(rankings: Sequence[Sequence[int]]) -> list[int]:
    """Dense ranks (1 = best, ties share a rank) of the responses by their mean rank over the
    rankings. Exact: rankings of one task have one length, so the rank sums order the means."""
    sums = [sum(column) for column in zip(*rankings, strict=True)]
    order = {total: rank for rank, total in enumerate(sorted(set(sums)), start=1)}
    return [order[total] for total in sums]
