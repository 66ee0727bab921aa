"""Writing rows as JSON Lines or Parquet, in constant memory and byte for byte the same for the
same rows. Pure: no database.

Rows are tuples in column order. Determinism: columns keep their declared order, nested objects
are written with sorted keys, nothing about the time of writing goes into the bytes. In Parquet
a `json` column (a judgment payload) is stored as its JSON text, since payloads differ in shape.
"""

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

# A column's type: what JSON value it holds and its Arrow type in Parquet.
_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
ARROW_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "messages": pa.list_(_MESSAGE),
    "str_list": pa.list_(pa.string()),
    "int_list": pa.list_(pa.int64()),
    "json": pa.string(),
}

JSONL_BLOCK_BYTES = 256 * 1024
PARQUET_ROW_GROUP = 20_000

_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def __post_init__(self):
        if self.type not in ARROW_TYPES:
            raise ValueError(f"unknown column type {self.type!r}")


def arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in columns])


def _nullable(encode: Callable[[object], str]) -> Callable[[object], str]:
    return lambda value: "null" if value is None else encode(value)


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as JSON")
    return float.__repr__(float(value))


def _remembering(encode: Callable[[object], str]) -> Callable[[object], str]:
    """`encode`, but a value that is the very object of one of the last two calls is not
    encoded again: a prompt or response shared by consecutive rows is encoded once."""
    last = [_NOTHING, "", _NOTHING, ""]

    def remembered(value):
        if value is last[0]:
            return last[1]
        if value is last[2]:
            return last[3]
        text = encode(value)
        last[2], last[3], last[0], last[1] = last[0], last[1], value, text
        return text

    return remembered


_NOTHING = object()
_SCALAR_ENCODERS = {
    "str": _nullable(encode_basestring),
    "int": _nullable(int.__repr__),
    "float": _nullable(_float),
    "bool": lambda value: "null" if value is None else ("true" if value else "false"),
}


def _encoder(column: Column) -> Callable[[object], str]:
    if column.type == "str":
        return _remembering(_SCALAR_ENCODERS["str"])
    return _SCALAR_ENCODERS.get(column.type) or _remembering(_encode)


def jsonl_lines(columns: list[Column], rows: Iterable[tuple]) -> Iterator[str]:
    """One JSON object per row, keys in column order, nested keys sorted."""
    template = "{" + ",".join(_encode(c.name) + ":%s" for c in columns) + "}\n"
    encoders = [_encoder(c) for c in columns]
    for row in rows:
        yield template % tuple([encode(value) for encode, value in zip(encoders, row, strict=True)])


def jsonl_blocks(
    columns: list[Column], rows: Iterable[tuple], *, block_bytes: int = JSONL_BLOCK_BYTES
) -> Iterator[bytes]:
    """JSON Lines as UTF-8 blocks of about `block_bytes`: what a streamed download sends."""
    return line_blocks(jsonl_lines(columns, rows), block_bytes=block_bytes)


def line_blocks(lines: Iterable[str], *, block_bytes: int = JSONL_BLOCK_BYTES) -> Iterator[bytes]:
    """Text in pieces of whole lines (a line each, or more) as UTF-8 blocks of about
    `block_bytes`."""
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= block_bytes:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def write_jsonl(columns: list[Column], rows: Iterable[tuple], out: IO[bytes]) -> None:
    for block in jsonl_blocks(columns, rows):
        out.write(block)


def write_parquet(
    columns: list[Column],
    rows: Iterable[tuple],
    out: IO[bytes] | str,
    *,
    row_group: int = PARQUET_ROW_GROUP,
) -> None:
    """Parquet in row groups of `row_group` rows: at most one group is held in memory."""
    schema = arrow_schema(columns)
    json_columns = [i for i, c in enumerate(columns) if c.type == "json"]
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        batch: list[list] = [[] for _ in columns]
        count = 0
        for row in rows:
            for i, value in enumerate(row):
                batch[i].append(value)
            count += 1
            if count == row_group:
                writer.write_batch(_record_batch(batch, schema, json_columns))
                batch, count = [[] for _ in columns], 0
        if count:
            writer.write_batch(_record_batch(batch, schema, json_columns))


def _record_batch(batch: list[list], schema: pa.Schema, json_columns: list[int]) -> pa.RecordBatch:
    for i in json_columns:
        batch[i] = [None if v is None else _encode(v) for v in batch[i]]
    return pa.RecordBatch.from_arrays(
        [pa.array(values, type=field.type) for values, field in zip(batch, schema, strict=True)],
        schema=schema,
    )
