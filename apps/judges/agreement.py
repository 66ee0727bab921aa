"""How a judge's labels compare with people's, and with themselves in the other order. Pure
functions of plain data (no database), small enough to check by hand.

A label is cut into *units*, each holding one category (`units`): a pair is one unit (its choice:
A, B, tie, both_bad), a thumbs task one unit per response (up / down), a ranking one unit per
response (its rank), a principle task one unit per response and principle (yes / no / na).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from apps.quality.metrics import binomial_p_two_sided, krippendorff_alpha, share

Unit = tuple  # (task id, *part)


def units(kind: str, payload: dict | None) -> dict[tuple, str]:
    """part -> category of one label or judgment (canonical positions)."""
    if not payload:
        return {}
    if kind in ("pairwise", "hindsight") and "choice" in payload:
        return {(): payload["choice"]}
    if "labels" in payload:
        return {(k,): "up" if up else "down" for k, up in enumerate(payload["labels"])}
    if payload.get("ranks"):
        return {(k,): str(rank) for k, rank in enumerate(payload["ranks"])}
    if "verdicts" in payload:
        return {(v["response"], v["principle"]): v["verdict"] for v in payload["verdicts"]}
    return {}


def judge_units(kind: str, payloads: Sequence[dict | None]) -> tuple[dict[tuple, str], int, int]:
    """One task's units from the judge's labels in each order: a unit both orders agree on takes
    that category; where they differ a pair counts as a tie (as MT-Bench scores an inconsistent
    pair), any other unit is left out. Returns (units, compared units, inconsistent units)."""
    seen = [units(kind, p) for p in payloads if p]
    if not seen:
        return {}, 0, 0
    out, compared, inconsistent = {}, 0, 0
    for part in set().union(*seen):
        values = {s[part] for s in seen if part in s}
        if len(seen) > 1:
            compared += 1
        if len(values) == 1:
            out[part] = values.pop()
        else:
            inconsistent += 1
            if kind in ("pairwise", "hindsight") and part == ():
                out[part] = "tie"
    return out, compared, inconsistent


def majority(values: Iterable[str]) -> str | None:
    """The category most votes gave, or None when two share the top (or there is no vote)."""
    counts = Counter(values).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's κ of two raters over (first, second) categories:
        p_o = share of pairs that agree, p_e = Σ_k p_first(k) · p_second(k),
        κ = (p_o − p_e) / (1 − p_e).
    None without pairs; 1.0 when both always give the same single category (p_e = p_o = 1)."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in first) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else None
    return (observed - expected) / (1 - expected)


def nominal_alpha(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Krippendorff's α (nominal, apps/quality's code) of two raters over the same pairs."""
    codes: dict[str, float] = {}
    ratings = {
        i: {
            "first": codes.setdefault(a, float(len(codes))),
            "second": codes.setdefault(b, float(len(codes))),
        }
        for i, (a, b) in enumerate(pairs)
    }
    return krippendorff_alpha(ratings, level="nominal")[0]


@dataclass(frozen=True)
class Agreement:
    units: int
    accuracy: float | None
    kappa: float | None
    alpha: float | None


def agreement(pairs: Sequence[tuple[str, str]]) -> Agreement:
    """Judge (first) against people (second) over the units both gave."""
    return Agreement(
        units=len(pairs),
        accuracy=share(sum(a == b for a, b in pairs), len(pairs)),
        kappa=cohen_kappa(pairs),
        alpha=nominal_alpha(pairs) if pairs else None,
    )


@dataclass(frozen=True)
class PositionBias:
    decisive: int  # pair labels that chose a side
    first_wins: int  # … and chose the side shown first
    compared: int  # units judged in both orders
    inconsistent: int  # … where the two orders differ

    @property
    def first_position_share(self) -> float | None:
        """0.5 is unbiased; 1.0 always picks the first shown."""
        return share(self.first_wins, self.decisive)

    @property
    def p_value(self) -> float | None:
        return binomial_p_two_sided(self.first_wins, self.decisive)

    @property
    def inconsistency_rate(self) -> float | None:
        return share(self.inconsistent, self.compared)


def position_bias(
    first_shown_won: Iterable[bool | None], per_task: Iterable[tuple[str, Sequence[dict | None]]]
) -> PositionBias:
    """From each pair label's `first_shown_won` and each task's (kind, payloads in each order)."""
    flags = [f for f in first_shown_won if f is not None]
    compared = inconsistent = 0
    for kind, payloads in per_task:
        _, c, i = judge_units(kind, payloads)
        compared, inconsistent = compared + c, inconsistent + i
    return PositionBias(
        decisive=len(flags), first_wins=sum(flags), compared=compared, inconsistent=inconsistent
    )


def people_by_unit(
    judgments: Iterable[tuple[int, int, str, dict]],
) -> dict[Unit, dict[int, str]]:
    """(task id, annotator id, kind, payload) -> unit -> {annotator: category}."""
    out: dict[Unit, dict[int, str]] = defaultdict(dict)
    for task_id, annotator_id, kind, payload in judgments:
        for part, value in units(kind, payload).items():
            out[(task_id, *part)][annotator_id] = value
    return out
