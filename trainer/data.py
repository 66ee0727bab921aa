"""Reading and checking the JSONL files the web app exports (TRL's column names).

Each dataset kind lists the columns it needs; `load_rows` returns the rows with values checked and normalised
(bools are bools, ranks are ints, margins are floats) or raises a `DatasetError` naming the file, line and column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.config import REACTIONS
from trainer.errors import DatasetError
from trainer.labels import VOTE_COLUMNS

Prompt = str | list[dict[str, str]]
Row = dict[str, Any]

# Fewer rows than this cannot make a meaningful run (nor a batch for KTO's KL pairing).
MIN_TRAIN_ROWS = 4
MIN_EVAL_ROWS = 1

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "pairwise": ("prompt", "chosen", "rejected"),
    "unpaired_binary": ("prompt", "completion", "label"),
    "listwise": ("prompt", "responses", "ranks"),
    "principles": ("prompt", "response", "principle", "verdict"),
    "reactions": ("prompt", "completion", "reaction"),
    "prompts": ("prompt",),
    "sft": ("prompt", "completion"),
}


def read_jsonl(path: Path) -> list[Row]:
    """Parse one JSON object per non-blank line; raise DatasetError on a missing file or a bad line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    rows: list[Row] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path.name} line {number}: not valid JSON ({exc.msg})"
                ) from exc
            if not isinstance(row, dict):
                raise DatasetError(
                    f"{path.name} line {number}: expected a JSON object, got {type(row).__name__}"
                )
            rows.append(row)
    return rows


def load_rows(kind: str, path: Path, *, min_rows: int = MIN_TRAIN_ROWS) -> list[Row]:
    """Read `path` as a dataset of `kind` and return checked rows; at least `min_rows` of them."""
    if kind not in REQUIRED_COLUMNS:
        raise DatasetError(
            f"unknown dataset kind {kind!r}; known kinds: {sorted(REQUIRED_COLUMNS)}"
        )
    path = Path(path)
    rows = read_jsonl(path)
    if len(rows) < min_rows:
        raise DatasetError(
            f"{path.name} has {len(rows)} rows; a {kind} dataset needs at least {min_rows}"
        )
    checker = _CHECKERS[kind]
    for number, row in enumerate(rows, start=1):
        missing = [column for column in REQUIRED_COLUMNS[kind] if column not in row]
        if missing:
            raise DatasetError(
                f"{path.name} row {number}: missing column(s) {missing}; a {kind} dataset needs "
                f"{list(REQUIRED_COLUMNS[kind])}"
            )
        try:
            row["prompt"] = _check_prompt(row["prompt"])
            checker(row)
        except ValueError as exc:
            raise DatasetError(f"{path.name} row {number}: {exc}") from exc
    return rows


def prompt_as_text(prompt: Prompt) -> str:
    """Flatten a prompt for an encoder: a string as is, messages as 'role: content' lines."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{message['role']}: {message['content']}" for message in prompt)


def _check_prompt(prompt: Any) -> Prompt:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt:
        for message in prompt:
            if not (
                isinstance(message, dict)
                and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)
            ):
                raise ValueError("prompt messages must be objects with string 'role' and 'content'")
        return prompt
    raise ValueError("prompt must be a string or a non-empty list of {role, content} messages")


def _text(row: Row, column: str) -> None:
    if not isinstance(row[column], str):
        raise ValueError(f"column {column!r} must be a string")


def _boolean(row: Row, column: str) -> None:
    value = row[column]
    if isinstance(value, bool):
        return
    # Some exporters write 0/1; accept exactly those, nothing fuzzier.
    if isinstance(value, int) and value in (0, 1):
        row[column] = bool(value)
        return
    raise ValueError(f"column {column!r} must be true or false")


def _check_pairwise(row: Row) -> None:
    _text(row, "chosen")
    _text(row, "rejected")
    for column in VOTE_COLUMNS:  # several annotators' votes, for soft labels (trainer.labels)
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"column {column!r} must be a number >= 0")
    if row.get("margin") is None:
        row.pop("margin", None)
        return
    margin = row["margin"]
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin):
        raise ValueError("column 'margin' must be a finite number")
    row["margin"] = float(margin)


def _check_unpaired(row: Row) -> None:
    _text(row, "completion")
    _boolean(row, "label")


def _check_listwise(row: Row) -> None:
    responses, ranks = row["responses"], row["ranks"]
    if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
        raise ValueError("column 'responses' must be a list of strings")
    if not isinstance(ranks, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in ranks
    ):
        raise ValueError("column 'ranks' must be a list of integers")
    if len(responses) != len(ranks):
        raise ValueError(f"'responses' has {len(responses)} items but 'ranks' has {len(ranks)}")
    if len(responses) < 2:
        raise ValueError("a ranked list needs at least 2 responses")
    if min(ranks) < 1:
        raise ValueError("ranks start at 1 (1 = best)")


def _check_principles(row: Row) -> None:
    _text(row, "response")
    _text(row, "principle")
    if not row["principle"].strip():
        raise ValueError("column 'principle' is empty")
    _boolean(row, "verdict")


def _check_reactions(row: Row) -> None:
    _text(row, "completion")
    if row["reaction"] not in REACTIONS:
        raise ValueError(
            f"column 'reaction' must be one of {list(REACTIONS)}, got {row['reaction']!r}"
        )


def _check_sft(row: Row) -> None:
    """A completion is a string, or TRL's conversational form: one assistant message (kept as its
    text, since the prompt is rendered separately)."""
    completion = row["completion"]
    if isinstance(completion, list) and len(completion) == 1 and isinstance(completion[0], dict):
        completion = completion[0].get("content")
    if not isinstance(completion, str) or not completion.strip():
        raise ValueError("column 'completion' must be a non-empty string or one assistant message")
    row["completion"] = completion


_CHECKERS: dict[str, Callable[[Row], None]] = {
    "pairwise": _check_pairwise,
    "unpaired_binary": _check_unpaired,
    "listwise": _check_listwise,
    "principles": _check_principles,
    "reactions": _check_reactions,
    "prompts": lambda row: None,
    "sft": _check_sft,
}
