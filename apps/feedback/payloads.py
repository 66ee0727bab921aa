"""Per-kind validation of judgment payloads.

Positions in a payload are canonical task positions (0 = A, 1 = B, ...), never screen sides:
the screen order is stored separately as `display_order`, so position bias can be measured.
Each validator returns the payload in normal form (only known keys, canonical values).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from apps.core.errors import ApplicationError

PAIRWISE_CHOICES = ("A", "B", "tie", "both_bad")
# A four-step scale of how much better the chosen response is; the index is the margin step.
STRENGTHS = ("negligibly", "slightly", "clearly", "much")
VERDICTS = ("yes", "no", "na")
RUBRIC_SCORES = ("met", "partly", "not_met")


class InvalidPayload(ApplicationError):
    status = 400


@dataclass(frozen=True)
class TaskShape:
    """What a payload is checked against: the task's responses and the project's vocabularies."""

    response_texts: tuple[str, ...]
    principle_ids: frozenset[int] = field(default_factory=frozenset)
    rubric_item_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def size(self) -> int:
        return len(self.response_texts)


def _require_dict(payload: object) -> dict:
    if not isinstance(payload, dict):
        raise InvalidPayload("The judgment must be a JSON object.")
    return payload


def _position(value: object, shape: TaskShape, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < shape.size:
        raise InvalidPayload(f"{what} must be a response position from 0 to {shape.size - 1}.")
    return value


def validate_pairwise(payload: object, shape: TaskShape) -> dict:
    data = _require_dict(payload)
    if shape.size != 2:
        raise InvalidPayload("A pairwise judgment needs a task with exactly two responses.")
    choice = data.get("choice")
    if choice not in PAIRWISE_CHOICES:
        raise InvalidPayload(f"choice must be one of {', '.join(PAIRWISE_CHOICES)}.")
    strength = data.get("strength")
    if choice in ("A", "B"):
        if strength not in STRENGTHS:
            raise InvalidPayload(f"strength must be one of {', '.join(STRENGTHS)}.")
    elif strength not in (None, ""):
        raise InvalidPayload("A tie or a both-bad verdict takes no strength.")
    else:
        strength = None
    return {"choice": choice, "strength": strength}


def validate_listwise(payload: object, shape: TaskShape) -> dict:
    data = _require_dict(payload)
    if data.get("not_rankable"):
        reason = str(data.get("reason", "")).strip()
        return {"not_rankable": True, "reason": reason, "ranks": None}
    ranks = data.get("ranks")
    if not isinstance(ranks, list) or len(ranks) != shape.size:
        raise InvalidPayload(f"ranks must list one rank for each of the {shape.size} responses.")
    if not all(
        isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= shape.size for r in ranks
    ):
        raise InvalidPayload(f"Each rank must be a whole number from 1 (best) to {shape.size}.")
    # Ties share a rank; the ranks in use must be 1..m with no gaps (dense ranking).
    if sorted(set(ranks)) != list(range(1, len(set(ranks)) + 1)):
        raise InvalidPayload("Ranks must start at 1 and leave no gaps (ties share a rank).")
    return {"not_rankable": False, "reason": "", "ranks": ranks}


def validate_principles(payload: object, shape: TaskShape) -> dict:
    data = _require_dict(payload)
    rows = data.get("verdicts")
    if not isinstance(rows, list) or not rows:
        raise InvalidPayload("verdicts must be a non-empty list.")
    seen: set[tuple[int, int]] = set()
    verdicts = []
    for row in rows:
        row = _require_dict(row)
        position = _position(row.get("response"), shape, "response")
        principle = row.get("principle")
        if principle not in shape.principle_ids:
            raise InvalidPayload(
                f"Principle {principle!r} is not one of this project's current principles."
            )
        verdict = row.get("verdict")
        if verdict not in VERDICTS:
            raise InvalidPayload(f"verdict must be one of {', '.join(VERDICTS)}.")
        evidence = str(row.get("evidence") or "").strip()
        if evidence and evidence not in shape.response_texts[position]:
            raise InvalidPayload("An evidence quote must be copied from the response it supports.")
        if (position, principle) in seen:
            raise InvalidPayload("Each principle is answered once per response.")
        seen.add((position, principle))
        verdicts.append(
            {"response": position, "principle": principle, "verdict": verdict, "evidence": evidence}
        )
    missing = {(p, q) for p in range(shape.size) for q in shape.principle_ids} - seen
    if missing:
        raise InvalidPayload(
            f"{len(missing)} principle verdict(s) are missing; answer every principle for every response."
        )
    return {"verdicts": sorted(verdicts, key=lambda v: (v["response"], v["principle"]))}


def validate_thumbs(payload: object, shape: TaskShape) -> dict:
    data = _require_dict(payload)
    labels = data.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) != shape.size
        or not all(isinstance(x, bool) for x in labels)
    ):
        raise InvalidPayload(
            f"labels must be {shape.size} true (thumbs up) / false (thumbs down) values."
        )
    return {"labels": labels}


def validate_hindsight(payload: object, shape: TaskShape) -> dict:
    """A hindsight-project judgment (either phase) is a pairwise verdict for two responses and a
    thumbs verdict for one."""
    return validate_pairwise(payload, shape) if shape.size == 2 else validate_thumbs(payload, shape)


def validate_demonstration(payload: object, shape: TaskShape) -> dict:
    """A demonstration's answer is the response the annotator wrote (stored beside the payload);
    the payload itself carries nothing but an optional rubric."""
    _require_dict(payload)
    if shape.size:
        raise InvalidPayload("A demonstration task shows no responses to judge.")
    return {}


def validate_rubric(rows: object, shape: TaskShape) -> list[dict]:
    """Every active rubric item scored once for every response."""
    if not isinstance(rows, list):
        raise InvalidPayload("rubric must be a list of item scores.")
    scores = []
    for row in rows:
        row = _require_dict(row)
        position = _position(row.get("response"), shape, "response")
        if row.get("item") not in shape.rubric_item_ids:
            raise InvalidPayload(
                f"Rubric item {row.get('item')!r} is not in this project's rubric."
            )
        if row.get("score") not in RUBRIC_SCORES:
            raise InvalidPayload(f"A rubric score must be one of {', '.join(RUBRIC_SCORES)}.")
        scores.append({"response": position, "item": row["item"], "score": row["score"]})
    scored = [(row["response"], row["item"]) for row in scores]
    if len(set(scored)) != len(scored):
        raise InvalidPayload("Each rubric item is scored once per response.")
    missing = {(p, i) for p in range(shape.size) for i in shape.rubric_item_ids} - set(scored)
    if missing:
        raise InvalidPayload(
            f"{len(missing)} rubric score(s) are missing; score every item for every response."
        )
    return sorted(scores, key=lambda r: (r["response"], r["item"]))


VALIDATORS: dict[str, Callable[[object, TaskShape], dict]] = {
    "pairwise": validate_pairwise,
    "listwise": validate_listwise,
    "principles": validate_principles,
    "thumbs": validate_thumbs,
    "hindsight": validate_hindsight,
    "demonstration": validate_demonstration,
}


def validate_payload(*, kind: str, payload: object, shape: TaskShape) -> dict:
    """The payload in normal form, or `InvalidPayload` saying what is wrong."""
    try:
        validator = VALIDATORS[kind]
    except KeyError:
        raise InvalidPayload(f"Judgments of kind {kind!r} are not taken on tasks.") from None
    normal = validator(payload, shape)
    rubric = _require_dict(payload).get("rubric")
    if rubric or shape.rubric_item_ids:
        normal["rubric"] = validate_rubric(rubric or [], shape)
    return normal


def strength_step(strength: str | None) -> int:
    """0 for a tie or no strength, 1..4 from negligibly to much better: the margin's scale."""
    return STRENGTHS.index(strength) + 1 if strength in STRENGTHS else 0
