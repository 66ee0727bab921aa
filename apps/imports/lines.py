"""Reading an uploaded JSONL file line by line, in bounded memory, and loading each line as a JSON
object the database can store. Pure: no database. Every import kind reads its file through here.

A line that cannot become a row is a `RowError` with a reason a person can act on: a line over
the byte limit (the rest of it is skipped, never held in memory), bytes that are not UTF-8, a NUL,
invalid JSON, JSON nested too deeply, NaN or Infinity, a lone surrogate. PostgreSQL refuses NUL
and lone surrogates in text and jsonb, and NaN/Infinity in jsonb; SQLite takes them, so without
these checks a file that imports in tests would fail in production, at write time, on the whole
file.
"""

import json
import math
from collections.abc import Iterator
from typing import BinaryIO

# Objects and lists nested deeper than this are refused: rows are a few levels deep, and
# Python's JSON reader recurses (a line of 100k "[" raises RecursionError).
MAX_JSON_DEPTH = 64
_SKIP_CHUNK = 1 << 16
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class RowError(ValueError):
    """What is wrong with one line of an import, said so that its author can fix it."""


def read_lines(handle: BinaryIO, *, max_line_bytes: int) -> Iterator[tuple[int, str | RowError]]:
    """Yields (line number, text) for every non-blank line, or (line number, RowError) for a line
    that is too long or not UTF-8. Lines end at "\\n" only (a raw U+2028 inside a JSON string is
    not a line break); a trailing "\\r" is dropped. At most `max_line_bytes` of one line are ever
    held in memory."""
    number = 0
    while True:
        chunk = handle.readline(max_line_bytes + 1)
        if not chunk:
            return
        number += 1
        if number == 1:
            if chunk.startswith(_UTF16_BOMS):
                yield number, RowError("the file is UTF-16 text; save it as UTF-8")
                return
            chunk = chunk.removeprefix(_UTF8_BOM)
        if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
            _skip_rest_of_line(handle)
            yield (
                number,
                RowError(
                    f"the line is longer than the limit of {max_line_bytes:,} bytes "
                    "(ARBITER_IMPORT_MAX_LINE_BYTES)"
                ),
            )
            continue
        chunk = chunk.rstrip(b"\n").rstrip(b"\r")
        if not chunk.strip():
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield (
                number,
                RowError(
                    f"the line is not UTF-8 text ({exc.reason} at byte {exc.start + 1}); "
                    "save the file as UTF-8"
                ),
            )
            continue
        yield number, text


def _skip_rest_of_line(handle: BinaryIO) -> None:
    while (rest := handle.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
        pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RowError(f"the number {text[:40]} is too large to store")
    return value


def _refuse_constant(name: str):
    raise RowError(f"{name} is not a number the database can store")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


def load_object(raw: str) -> dict:
    """The line as a JSON object whose every string, key and number the database can store,
    or RowError saying where it is not."""
    if "\x00" in raw:
        raise RowError("the line holds a NUL byte, which the database cannot store")
    try:
        row = _DECODER.decode(raw)
    except json.JSONDecodeError as exc:
        raise RowError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RowError:
        raise
    except ValueError as exc:  # an integer of more than 4300 digits
        raise RowError(f"not valid JSON ({str(exc).split(':')[0]})") from None
    except RecursionError:
        raise RowError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(row, dict):
        raise RowError("each line must be a JSON object")
    _check_storable(row)
    return row


def _check_storable(value: object) -> None:
    """Walks the value without recursion: depth, NUL characters and lone surrogates."""
    stack: list[tuple[object, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, f"the value at {path}" if path else "the row")
            continue
        if isinstance(item, dict | list) and depth > MAX_JSON_DEPTH:
            raise RowError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                _check_text(key, f"the key {child_path!r}")
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise RowError(
            f"{where[:80]} holds a NUL character (\\u0000), which the database cannot store"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowError(
            f"{where[:80]} holds a lone surrogate (\\u{ord(text[exc.start]):04x}), "
            "which is not a Unicode character"
        ) from None


# ---------------------------------------------------------------- fields every row kind shares

ROLES = ("system", "user", "assistant")
MAX_EXTERNAL_ID = 200  # Prompt.external_id


def messages_of(value: object, what: str) -> list[dict]:
    """A non-empty list of {"role", "content"} messages, each with text, reduced to those keys."""
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


def external_id_of(row: dict) -> str:
    value = row.get("id")
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError('"id" must be a string or a number')
    if len(str(value)) > MAX_EXTERNAL_ID:
        raise RowError(f'"id" is longer than {MAX_EXTERNAL_ID} characters')
    return str(value)
