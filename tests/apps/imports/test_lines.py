"""Reading an import file line by line, and loading each line as JSON the database can store."""

import io
import json

import pytest

from apps.imports.lines import MAX_JSON_DEPTH, RowError, load_object, read_lines


def lines_of(content: bytes, max_line_bytes: int = 1000) -> list[tuple[int, str]]:
    return [
        (number, str(text) if isinstance(text, RowError) else text)
        for number, text in read_lines(io.BytesIO(content), max_line_bytes=max_line_bytes)
    ]


def test_lines_are_numbered_from_one_and_blank_lines_are_skipped_but_counted():
    assert lines_of(b'{"a": 1}\n\n  \r\n{"b": 2}\r\n{"c": 3}') == [
        (1, '{"a": 1}'),
        (4, '{"b": 2}'),
        (5, '{"c": 3}'),
    ]


def test_a_raw_line_separator_inside_a_string_does_not_split_the_line():
    content = '{"prompt": "one\u2028two\u2029three\x85four"}\n{"b": 2}'.encode()
    assert [number for number, _ in lines_of(content)] == [1, 2]
    assert json.loads(lines_of(content)[0][1])["prompt"] == "one\u2028two\u2029three\x85four"


def test_a_line_over_the_limit_is_an_error_and_the_next_line_keeps_its_number():
    content = b'{"a": 1}\n' + b"x" * 5000 + b"\n" + b'{"c": 3}\n'
    assert lines_of(content, max_line_bytes=100) == [
        (1, '{"a": 1}'),
        (2, "the line is longer than the limit of 100 bytes (ARBITER_IMPORT_MAX_LINE_BYTES)"),
        (3, '{"c": 3}'),
    ]


def test_a_line_exactly_at_the_limit_is_read():
    line = b'{"a": "' + b"x" * 91 + b'"}'
    assert len(line) == 100
    assert lines_of(line + b"\n" + line, max_line_bytes=100)[1] == (2, line.decode())


def test_bytes_that_are_not_utf8_are_an_error_of_their_line_only():
    lines = lines_of(b'{"a": "ok"}\n{"a": "caf\xe9"}\n{"a": "fine"}')
    assert lines[0] == (1, '{"a": "ok"}') and lines[2] == (3, '{"a": "fine"}')
    assert lines[1][0] == 2 and "not UTF-8" in lines[1][1] and "byte 11" in lines[1][1]


def test_a_utf8_byte_order_mark_is_dropped_and_utf16_is_named():
    assert lines_of(b'\xef\xbb\xbf{"a": 1}') == [(1, '{"a": 1}')]
    assert lines_of('{"a": 1}\n'.encode("utf-16")) == [
        (1, "the file is UTF-16 text; save it as UTF-8")
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"prompt": "a\x00b"}', "NUL byte"),
        ('{"prompt": "a\\u0000b"}', "the value at prompt holds a NUL character"),
        ('{"m": {"k\\u0000": 1}}', "the key 'm.k\\x00' holds a NUL character"),
        ('{"r": ["ok", "\\ud800"]}', "the value at r[1] holds a lone surrogate (\\ud800)"),
        ('{"score": NaN}', "NaN is not a number"),
        ('{"score": -Infinity}', "-Infinity is not a number"),
        ('{"score": 1e999}', "too large to store"),
        ('{"n": 1' + "0" * 5000 + "}", "not valid JSON (Exceeds the limit"),
        ("[" * 100_000, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        ('{"m": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}", "nested"),
        ('{"a": 1', "not valid JSON (Expecting ',' delimiter at column 8)"),
        ("[1, 2]", "each line must be a JSON object"),
    ],
)
def test_lines_the_database_would_refuse_are_row_errors_that_say_why(raw, reason):
    with pytest.raises(RowError) as caught:
        load_object(raw)
    assert reason in str(caught.value)


def test_json_nested_within_the_limit_loads():
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    assert load_object('{"m": ' + nested + ', "s": "caf\\u00e9 \\ud83d\\ude00"}')["s"] == "café 😀"
