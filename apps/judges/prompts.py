"""A judge's prompt templates, how they are filled, and how a reply becomes a payload. Pure: no
database, no model.

A template names variables as `{{ name }}`. Filling is one pass of one regular expression over
the admin's template: the values put in (a prompt, a response: untrusted text) are never scanned
again, so a response that contains `{{ guidelines }}` or `{0.__class__}` stays that text. No
format(), no template engine, no attribute access: only the names in `VARIABLES` exist.

Positions: the judge sees the responses in `display_order` (canonical positions in shown order,
e.g. [1, 0] for a pair shown reversed); its reply is read in shown positions and turned into
canonical ones (`to_canonical`), the form a person's judgment is stored in.
"""

import math
import re
from collections.abc import Sequence

from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.feedback.payloads import STRENGTHS, VALIDATORS, InvalidPayload, TaskShape

KINDS = ("pairwise", "listwise", "principles", "thumbs")

COMMON = ("prompt", "guidelines")
VARIABLES: dict[str, tuple[str, ...]] = {
    "pairwise": (*COMMON, "response_a", "response_b"),
    "listwise": (*COMMON, "responses", "count"),
    "principles": (*COMMON, "response", "principles"),
    "thumbs": (*COMMON, "response"),
}
# A template must show the judge what it judges.
REQUIRED: dict[str, tuple[str, ...]] = {
    "pairwise": ("response_a", "response_b"),
    "listwise": ("responses",),
    "principles": ("response", "principles"),
    "thumbs": ("response",),
}
MAX_TEMPLATE = 20_000

DEFAULT_TEMPLATES: dict[str, str] = {
    "pairwise": (
        "You compare two answers to the same conversation.\n\n"
        "Guidelines:\n{{ guidelines }}\n\n"
        "Conversation:\n{{ prompt }}\n\n"
        "[Answer A]\n{{ response_a }}\n[End of answer A]\n\n"
        "[Answer B]\n{{ response_b }}\n[End of answer B]\n\n"
        "Which answer is better? Reply with one line: the letter of the better answer and how "
        "much better it is (negligibly, slightly, clearly or much), e.g. `A clearly`; or `tie`; "
        "or `both_bad`.\nVerdict: "
    ),
    "listwise": (
        "You rank {{ count }} answers to the same conversation, best first.\n\n"
        "Guidelines:\n{{ guidelines }}\n\n"
        "Conversation:\n{{ prompt }}\n\n{{ responses }}\n\n"
        "Reply with one line: the answer numbers from best to worst, separated by `>`, "
        "e.g. `2 > 1 > 3`.\nRanking: "
    ),
    "principles": (
        "You check one answer against principles.\n\n"
        "Guidelines:\n{{ guidelines }}\n\n"
        "Conversation:\n{{ prompt }}\n\n[Answer]\n{{ response }}\n[End of answer]\n\n"
        "Principles:\n{{ principles }}\n\n"
        "For each principle reply with one line `<number>: yes`, `<number>: no` or "
        "`<number>: na` (not applicable).\n"
    ),
    "thumbs": (
        "You rate one answer to a conversation.\n\n"
        "Guidelines:\n{{ guidelines }}\n\n"
        "Conversation:\n{{ prompt }}\n\n[Answer]\n{{ response }}\n[End of answer]\n\n"
        "Is this a good answer? Reply `yes` or `no`.\nVerdict: "
    ),
}

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def judged_kind(*, task_kind: str, size: int) -> str:
    """The judge's kind for a task: hindsight tasks are pairs or single responses."""
    if task_kind == "hindsight":
        return "pairwise" if size == 2 else "thumbs"
    if task_kind not in KINDS:
        raise ApplicationError(
            _("A judge does not label %(task_kind)s tasks.") % {"task_kind": task_kind}
        )
    return task_kind


def template_for(templates: dict, kind: str) -> str:
    return (templates or {}).get(kind) or DEFAULT_TEMPLATES[kind]


def check_template(*, kind: str, template: str) -> str:
    """The template, trimmed of trailing blanks on the right only where harmless, or
    ApplicationError naming an unknown or missing variable."""
    if kind not in KINDS:
        raise ApplicationError(_("Unknown judge kind %(kind)r.") % {"kind": kind})
    if len(template) > MAX_TEMPLATE:
        raise ApplicationError(
            _("A template may be at most %(MAX_TEMPLATE)s characters.")
            % {"MAX_TEMPLATE": MAX_TEMPLATE}
        )
    # Anything in double braces must be a known name: `{{ settings.SECRET_KEY }}` would be sent
    # as it is (nothing is ever evaluated), but an admin who wrote it expected something else.
    used = {name.strip() for name in _BRACES.findall(template)}
    unknown = sorted(used - set(VARIABLES[kind]))
    if unknown:
        raise ApplicationError(
            _("Unknown variable(s) in the %(kind)s template: %(values)s. Known: %(values2)s.")
            % {"kind": kind, "values": ", ".join(unknown), "values2": ", ".join(VARIABLES[kind])}
        )
    missing = [name for name in REQUIRED[kind] if name not in used]
    if missing:
        raise ApplicationError(
            _("The %(kind)s template must show %(values)s.")
            % {"kind": kind, "values": ", ".join("{{ " + m + " }}" for m in missing)}
        )
    return template


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each `{{ name }}` replaced by its value, in one pass (see the module)."""
    return _VARIABLE.sub(lambda m: values.get(m[1], m[0]), template)


def conversation_text(messages: Sequence[dict]) -> str:
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)


def template_values(
    *,
    kind: str,
    messages: Sequence[dict],
    guidelines: str,
    shown: Sequence[str],
    principles: Sequence[tuple[int, str]] = (),
) -> dict[str, str]:
    """The variables of `kind` for one request; `shown` are the responses in shown order."""
    values = {"prompt": conversation_text(messages), "guidelines": guidelines or "(none)"}
    if kind == "pairwise":
        values.update(response_a=shown[0], response_b=shown[1])
    elif kind == "listwise":
        values["responses"] = "\n\n".join(
            f"[Answer {i}]\n{text}\n[End of answer {i}]" for i, text in enumerate(shown, start=1)
        )
        values["count"] = str(len(shown))
    else:
        values["response"] = shown[0]
        values["principles"] = "\n".join(f"{pk}: {text}" for pk, text in principles)
    return values


# --- reading replies ----------------------------------------------------------------------------

_PAIR = re.compile(
    r"(?<![A-Za-z0-9_])(?:(A|B)(?![A-Za-z0-9_])[\s:,.-]*(?:is\s+)?("
    + "|".join(STRENGTHS)
    + r")\b|(tie)\b|(both[ _]bad)\b)",
    re.IGNORECASE,
)
_THUMB = re.compile(r"\b(yes|no|up|down|good|bad)\b", re.IGNORECASE)
_PRINCIPLE = re.compile(r"(\d+)\s*[:\]).=-]?\s*(yes|no|na|n/a)\b", re.IGNORECASE)


def parse_reply(
    kind: str, reply: str, *, size: int, principle_ids: Sequence[int] = ()
) -> dict | None:
    """The verdict a reply gives, in shown positions, or None when it gives none."""
    text = reply or ""
    if kind == "pairwise":
        match = _PAIR.search(text)
        if match is None:
            return None
        letter, strength, tie, both_bad = match.groups()
        if tie:
            return {"choice": "tie", "strength": None}
        if both_bad:
            return {"choice": "both_bad", "strength": None}
        if letter not in ("A", "B"):  # a lower-case "a" is an article, not a verdict
            return None
        return {"choice": letter, "strength": strength.lower()}
    if kind == "thumbs":
        match = _THUMB.search(text)
        if match is None:
            return None
        return {"labels": [match[1].lower() in ("yes", "up", "good")]}
    if kind == "listwise":
        for line in text.splitlines() or [text]:
            numbers = [int(n) for n in re.findall(r"\d+", line)]
            if sorted(numbers) == list(range(1, size + 1)):
                ranks = [0] * size
                for rank, shown_number in enumerate(numbers, start=1):
                    ranks[shown_number - 1] = rank
                return {"not_rankable": False, "reason": "", "ranks": ranks}
        return None
    if kind == "principles":
        found: dict[int, str] = {}
        for pk, verdict in _PRINCIPLE.findall(text):
            if int(pk) in principle_ids and int(pk) not in found:
                found[int(pk)] = "na" if verdict.lower() in ("na", "n/a") else verdict.lower()
        if set(found) != set(principle_ids):
            return None
        return {
            "verdicts": [
                {"response": 0, "principle": pk, "verdict": found[pk], "evidence": ""}
                for pk in sorted(found)
            ]
        }
    raise ValueError(f"unknown judge kind {kind!r}")


def to_canonical(kind: str, shown_payload: dict, display_order: Sequence[int]) -> dict:
    """A payload read in shown positions, in canonical positions (`display_order[k]` is the
    canonical position of the k-th response shown)."""
    if kind == "pairwise":
        choice = shown_payload["choice"]
        if choice in ("A", "B"):
            choice = "AB"[display_order["AB".index(choice)]]
        return {"choice": choice, "strength": shown_payload["strength"]}
    if kind == "listwise":
        ranks = [0] * len(display_order)
        for k, position in enumerate(display_order):
            ranks[position] = shown_payload["ranks"][k]
        return {**shown_payload, "ranks": ranks}
    if kind == "thumbs":
        labels = [False] * len(display_order)
        for k, position in enumerate(display_order):
            labels[position] = shown_payload["labels"][k]
        return {"labels": labels}
    if kind == "principles":
        return {
            "verdicts": sorted(
                (
                    {**v, "response": display_order[v["response"]]}
                    for v in shown_payload["verdicts"]
                ),
                key=lambda v: (v["response"], v["principle"]),
            )
        }
    raise ValueError(f"unknown judge kind {kind!r}")


def checked(kind: str, payload: dict, *, texts: Sequence[str], principle_ids: Sequence[int]):
    """The payload in the normal form a person's judgment has (feedback.payloads), or None."""
    shape = TaskShape(response_texts=tuple(texts), principle_ids=frozenset(principle_ids))
    try:
        return VALIDATORS[kind](payload, shape)
    except InvalidPayload:
        return None


# --- scores to verdicts (local models' letter odds, reward models' score gaps) ------------------

# |P(first better) - 0.5| below each bound earns the strength beside it; above the last: "much".
STRENGTH_BOUNDS = ((0.05, "negligibly"), (0.15, "slightly"), (0.30, "clearly"))


def strength_from_probability(p_first: float) -> str:
    gap = abs(p_first - 0.5)
    for bound, name in STRENGTH_BOUNDS:
        if gap < bound:
            return name
    return "much"


def pair_from_probability(p_first: float) -> dict:
    """A pairwise verdict in shown positions from P(the first shown is better)."""
    if p_first == 0.5:
        return {"choice": "tie", "strength": None}
    return {"choice": "A" if p_first > 0.5 else "B", "strength": strength_from_probability(p_first)}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
