"""Soft preference labels from several annotators' votes (no model code).

The aggregated pairs export writes, per task, how many annotators preferred the chosen response
(`votes_chosen`), the other one (`votes_rejected`) or called a tie (`votes_tie`), and optionally the sum of
their strength steps on each side (`strength_chosen`, `strength_rejected`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VOTE_COLUMNS = (
    "votes_chosen",
    "votes_rejected",
    "votes_tie",
    "strength_chosen",
    "strength_rejected",
)


def vote_share(
    *,
    votes_chosen: float,
    votes_rejected: float,
    votes_tie: float = 0.0,
    strength_chosen: float | None = None,
    strength_rejected: float | None = None,
) -> float | None:
    """P(chosen ≻ rejected) as the strength-weighted share of the votes, ties counting half to each side.

    p = (S_c + T/2) / (S_c + S_r + T)

    S_c, S_r: the summed strength of the votes on each side when both are given, else the vote counts
    (every vote weighs 1); T: the number of ties. Returns None when nobody voted on either side or a tie.
    Example: 2 votes for chosen of strength 2 and 3, 1 vote for rejected of strength 1, 1 tie:
    (5 + 0.5) / (5 + 1 + 1) = 0.7857.
    """
    if strength_chosen is not None and strength_rejected is not None:
        side_chosen, side_rejected = float(strength_chosen), float(strength_rejected)
    else:
        side_chosen, side_rejected = float(votes_chosen), float(votes_rejected)
    total = side_chosen + side_rejected + votes_tie
    if total <= 0:
        return None
    return (side_chosen + votes_tie / 2) / total


def row_preference(row: Mapping[str, Any]) -> float | None:
    """`vote_share` of a pairs row that carries votes, else None (a single annotator's hard label)."""
    if row.get("votes_chosen") is None or row.get("votes_rejected") is None:
        return None
    return vote_share(
        votes_chosen=row["votes_chosen"],
        votes_rejected=row["votes_rejected"],
        votes_tie=row.get("votes_tie") or 0.0,
        strength_chosen=row.get("strength_chosen"),
        strength_rejected=row.get("strength_rejected"),
    )


def smoothed(target: float, label_smoothing: float) -> float:
    """Label smoothing with flip probability ε: p' = (1 - ε)·p + ε·(1 - p)."""
    return (1 - label_smoothing) * target + label_smoothing * (1 - target)
