"""Parsing one JSONL row of a dataset in TRL's formats. Pure: no database.

Preference rows: {"prompt", "chosen", "rejected"} with an optional "margin" and "id", in the
standard form (strings) or the conversational form (prompt = list of messages, chosen/rejected =
[{"role": "assistant", "content": ...}]). TRL's implicit-prompt form (no "prompt"; chosen and
rejected are whole conversations sharing all but their last message) is accepted too.
Unpaired rows: {"prompt", "completion", "label"} with an optional "id".
"""

import math
from dataclasses import dataclass

from apps.imports.lines import RowError, external_id_of, load_object, messages_of

__all__ = ["PreferenceRow", "RowError", "UnpairedRow", "parse_preference_row", "parse_unpaired_row"]


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


def _prompt(value: object) -> list[dict]:
    if isinstance(value, str):
        if not value.strip():
            raise RowError('"prompt" is empty')
        return [{"role": "user", "content": value}]
    messages = messages_of(value, "prompt")
    if messages[-1]["role"] != "user":
        raise RowError('the last message of "prompt" must be the user\'s')
    return messages


def _completion(value: object, what: str) -> str:
    if isinstance(value, str):
        if not value.strip():
            raise RowError(f'"{what}" is empty')
        return value
    messages = messages_of(value, what)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise RowError(f'"{what}" must be one assistant message (or a string)')
    return messages[0]["content"]


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
    row = load_object(raw)
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
        external_id=external_id_of(row),
    )


def parse_unpaired_row(*, line: int, raw: str) -> UnpairedRow:
    row = load_object(raw)
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
        external_id=external_id_of(row),
    )
