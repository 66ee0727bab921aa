"""Label-quality measures as pure functions of plain data (no database), each small enough to
check by hand."""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

import krippendorff
import numpy as np


@dataclass(frozen=True)
class Agreement:
    alpha: float | None  # None when no unit has two values
    level: str  # Krippendorff's level of measurement: the distance used
    units: int  # units judged by at least two annotators
    description: str


def krippendorff_alpha(
    ratings: dict[object, dict[object, float]], *, level: str
) -> tuple[float | None, int]:
    """Krippendorff's alpha over `ratings[unit][annotator] = value` (missing values omitted),
    with the distance of `level` (nominal, ordinal, interval). Returns (alpha, pairable units)."""
    units = [unit for unit, by in ratings.items() if len(by) >= 2]
    if not units:
        return None, 0
    annotators = sorted({a for unit in units for a in ratings[unit]}, key=str)
    data = np.full((len(annotators), len(units)), np.nan)
    row = {a: i for i, a in enumerate(annotators)}
    for j, unit in enumerate(units):
        for annotator, value in ratings[unit].items():
            data[row[annotator], j] = value
    if len(np.unique(data[~np.isnan(data)])) < 2:
        # Every value is the same: perfect agreement, which the formula leaves undefined (0/0).
        return 1.0, len(units)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level)), len(units)


def gold_matches(kind: str, payload: dict, gold: dict) -> bool:
    """Whether a judgment gives the gold task's known answer (the verdict, not its strength)."""
    if "choice" in gold:
        return payload.get("choice") == gold.get("choice")
    if "labels" in gold:
        return payload.get("labels") == gold.get("labels")
    if "ranks" in gold:
        return bool(payload.get("not_rankable")) == bool(gold.get("not_rankable")) and payload.get(
            "ranks"
        ) == gold.get("ranks")
    return payload == gold


def directed_three_cycles(edges: Iterable[tuple[object, object]]) -> int:
    """Number of intransitive triads a≻b≻c≻a among preferences `winner -> loser`
    (each cycle counted once)."""
    beats: dict[object, set] = defaultdict(set)
    for winner, loser in edges:
        if winner != loser:
            beats[winner].add(loser)
    count = 0
    for a, losers in beats.items():
        for b in losers:
            for c in beats.get(b, ()):
                if a in beats.get(c, ()):
                    count += 1
    return count // 3  # each cycle is found once from each of its three members


def median_or_none(values: Sequence[float]) -> float | None:
    return float(median(values)) if values else None


def share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def binomial_p_two_sided(hits: int, total: int) -> float | None:
    """Exact two-sided binomial test of `hits` against a fair coin: is the position bias real?"""
    if not total:
        return None
    probs = [math.comb(total, k) / 2**total for k in range(total + 1)]
    observed = probs[hits]
    return min(1.0, sum(p for p in probs if p <= observed * (1 + 1e-9)))


def interval_alpha_from_unit_sums(
    units: Iterable[tuple[int, float, float]],
) -> tuple[float | None, int]:
    """Krippendorff's alpha with the interval distance from per-unit sums (m values, their sum,
    their sum of squares), so the database can do the per-unit work:

        D_o = (1/n) Σ_u 2(m_u Σv² − (Σv)²) / (m_u − 1)
        D_e = 2(n S2 − S1²) / (n (n − 1))          alpha = 1 − D_o / D_e

    over the units with m_u ≥ 2 (n = their values, S1 and S2 the sums over all of them)."""
    pairable = [(m, s, s2) for m, s, s2 in units if m >= 2]
    return alpha_from_totals(
        units=len(pairable),
        n=sum(m for m, _, _ in pairable),
        total=sum(s for _, s, _ in pairable),
        total_sq=sum(s2 for _, _, s2 in pairable),
        observed=sum(2 * (m * s2 - s * s) / (m - 1) for m, s, s2 in pairable),
    )


def alpha_from_totals(
    *, units: int, n: int, total: float, total_sq: float, observed: float
) -> tuple[float | None, int]:
    """The last step of `interval_alpha_from_unit_sums`, from totals over the pairable units:
    `observed` is Σ_u 2(m_u Σv² − (Σv)²) / (m_u − 1), not yet divided by n."""
    if not units or n < 2:
        return None, 0
    d_observed = observed / n
    d_expected = 2 * (n * total_sq - total * total) / (n * (n - 1))
    if d_expected <= 1e-12:
        return (1.0 if d_observed <= 1e-12 else 0.0), units
    return 1 - d_observed / d_expected, units
