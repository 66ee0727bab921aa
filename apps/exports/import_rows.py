"""Parsing one JSONL row of a dataset in TRL's formats. Pure: no database.

Preference rows: {"prompt", "chosen", "rejected"} with an optional "margin" and "id", in the
standard form (strings) or the conversational form (prompt = list of messages, chosen/rejected =
[{"role": "assistant", "content": ...}]). TRL's implicit-prompt form (no "prompt"; chosen and
rejected are whole conversations sharing all but their last message) is accepted too.
Unpaired rows: {"prompt", "completion", "label"} with an optional "id".
"""

import json
import math
from dataclasses import dataclass

ROLES = ("system", "user", "assistant")


class RowError(ValueError):
    pass


@dataclass(frozen=True)
class PreferenceRow:
    line: int
    messages: list[dict]
    chosen: str
    rejected: str
    margin: float | None = None
    external_id: str = ""


@dataclass(frozen=True)
class UnpairedRow:
    line: int
    messages: list[dict]
    completion: str
    label: bool
    external_id: str = ""


def _load(raw: str) -> dict:
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RowError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise RowError("each line must be a JSON object")
    return row


def _messages(value: object, what: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RowError(f'"{what}" must be a non-empty list of {{"role", "content"}} messages')
    messages = []
    for i, message in enumerate(value, start=1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RowError(f'"{what}" message {i} needs a role of {", ".join(ROLES)}')
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise RowError(f'"{what}" message {i} has no text content')
        messages.append({"role": message["role"], "content": content})
    return messages


def _prompt(value: object) -> list[dict]:
    if isinstance(value, str):
        if not value.strip():
            raise RowError('"prompt" is empty')
        return [{"role": "user", "content": value}]
    messages = _messages(value, "prompt")
    if messages[-1]["role"] != "user":
        raise RowError('the last message of "prompt" must be the user\'s')
    return messages


def _completion(value: object, what: str) -> str:
    if isinstance(value, str):
        if not value.strip():
            raise RowError(f'"{what}" is empty')
        return value
    messages = _messages(value, what)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise RowError(f'"{what}" must be one assistant message (or a string)')
    return messages[0]["content"]


def _external_id(row: dict) -> str:
    value = row.get("id", "")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError('"id" must be a string or a number')
    return str(value)[:200]


def _split_implicit_prompt(row: dict) -> tuple[object, object, object]:
    """TRL's implicit prompt: the messages chosen and rejected share, all but their last."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if not (isinstance(chosen, list) and isinstance(rejected, list)):
        raise RowError('a row needs a "prompt" (or conversational chosen/rejected sharing one)')
    if len(chosen) < 2 or chosen[:-1] != rejected[:-1]:
        raise RowError(
            'without "prompt", chosen and rejected must share all but their last message'
        )
    return chosen[:-1], chosen[-1:], rejected[-1:]


def parse_preference_row(*, line: int, raw: str) -> PreferenceRow:
    row = _load(raw)
    if "prompt" in row:
        prompt, chosen, rejected = row["prompt"], row.get("chosen"), row.get("rejected")
    else:
        prompt, chosen, rejected = _split_implicit_prompt(row)
    if chosen is None or rejected is None:
        raise RowError('a preference row needs "chosen" and "rejected"')
    messages = _prompt(prompt)
    chosen_text = _completion(chosen, "chosen")
    rejected_text = _completion(rejected, "rejected")
    if chosen_text == rejected_text:
        raise RowError('"chosen" and "rejected" are the same text')
    margin = row.get("margin")
    if margin is not None and (
        isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin)
    ):
        raise RowError('"margin" must be a finite number')
    return PreferenceRow(
        line=line,
        messages=messages,
        chosen=chosen_text,
        rejected=rejected_text,
        margin=None if margin is None else float(margin),
        external_id=_external_id(row),
    )


def parse_unpaired_row(*, line: int, raw: str) -> UnpairedRow:
    row = _load(raw)
    for column in ("prompt", "completion", "label"):
        if column not in row:
            raise RowError(f'an unpaired row needs "{column}"')
    label = row["label"]
    # TRL writes bools; 0 and 1 are taken as well (as the trainer does), nothing fuzzier.
    if not isinstance(label, bool) and not (isinstance(label, int) and label in (0, 1)):
        raise RowError('"label" must be true or false')
    return UnpairedRow(
        line=line,
        messages=_prompt(row["prompt"]),
        completion=_completion(row["completion"], "completion"),
        label=bool(label),
        external_id=_external_id(row),
    )
