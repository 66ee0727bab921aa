"""Turns the labeling form's fields into a judgment payload, for every kind. The page works
without JavaScript: the script only fills these same fields from the keyboard or by dragging."""

import json
import re

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError

_RANK = re.compile(r"^rank_(\d+)$")
_LABEL = re.compile(r"^label_(\d+)$")
_VERDICT = re.compile(r"^verdict_(\d+)_(\d+)$")
_RUBRIC = re.compile(r"^rubric_(\d+)_(\d+)$")


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ranks(post: QueryDict, size: int) -> dict:
    if post.get("not_rankable"):
        return {"not_rankable": True, "reason": post.get("not_rankable_reason", "")}
    found = {int(m.group(1)): _int_or_none(v) for k, v in post.items() if (m := _RANK.match(k))}
    return {"ranks": [found.get(position) for position in range(size)]}


def _labels(post: QueryDict, size: int) -> dict:
    values = [post.get(f"label_{position}") for position in range(size)]
    if any(v not in ("up", "down") for v in values):
        raise ApplicationError(_("Give every response a thumbs up or a thumbs down."))
    return {"labels": [v == "up" for v in values]}


def _verdicts(post: QueryDict) -> dict:
    verdicts = []
    for key, value in post.items():
        if m := _VERDICT.match(key):
            position, principle = int(m.group(1)), int(m.group(2))
            evidence = post.get(f"evidence_{position}_{principle}", "")
            verdicts.append(
                {
                    "response": position,
                    "principle": principle,
                    "verdict": value,
                    "evidence": evidence,
                }
            )
    return {"verdicts": verdicts}


def _rubric(post: QueryDict) -> list[dict]:
    return [
        {"response": int(m.group(1)), "item": int(m.group(2)), "score": value}
        for key, value in post.items()
        if (m := _RUBRIC.match(key))
    ]


def payload_from_post(*, post: QueryDict, kind: str, size: int) -> object:
    """The payload the form describes; validation proper is the service's job."""
    if "payload" in post:
        try:
            return json.loads(post["payload"])
        except json.JSONDecodeError:
            raise ApplicationError(
                _("The answer could not be read; please answer again.")
            ) from None
    if kind == "demonstration":
        payload = {}
    elif kind == "listwise":
        payload = _ranks(post, size)
    elif kind == "thumbs" or (kind == "hindsight" and size == 1):
        payload = _labels(post, size)
    elif kind == "principles":
        payload = _verdicts(post)
    else:
        payload = {"choice": post.get("choice"), "strength": post.get("strength") or None}
    rubric = _rubric(post)
    if rubric:
        payload["rubric"] = rubric
    return payload


def written_from_post(*, post: QueryDict) -> tuple[str, int | None]:
    """The response the annotator wrote (a demonstration, or a rewrite) and the canonical
    position of the response it edits ("" / None when it edits none)."""
    return post.get("written_response", ""), _int_or_none(post.get("edited_position", ""))
