"""Exports as bytes: streamed (JSON Lines), or written to a file (either format), in constant
memory. Reads only; the snapshot and job services build on these."""

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.db import connection, transaction

from apps.exports.datasets import Dataset, ExportStats, dataset_build
from apps.exports.options import ExportOptions
from apps.exports.writers import jsonl_blocks, write_parquet
from apps.projects.models import Project


@contextlib.contextmanager
def read_transaction():
    """On PostgreSQL, one read-only REPEATABLE READ transaction: every chunk of an export sees
    the same data, and the row cursor streams (outside a transaction Django declares it WITH
    HOLD, and the server materializes the whole result first). On SQLite nothing: a
    transaction there would take the write lock for the length of the export."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # An export reads its cursors to the end: plan for all rows, not for the first
            # tenth (the default for cursors, whose fast-start plans cost three times the CPU).
            cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        yield


def jsonl_stream(*, project: Project, kind: str, options: ExportOptions) -> Iterator[bytes]:
    """The export as JSON Lines blocks, read from the database as they are sent."""
    with read_transaction():
        dataset = dataset_build(project=project, kind=kind, options=options)
        yield from dataset_jsonl_blocks(dataset)


def dataset_jsonl_blocks(dataset: Dataset) -> Iterator[bytes]:
    """The dataset as JSON Lines blocks: from its own lines where its kind writes them."""
    if dataset.jsonl_blocks is not None:
        return dataset.jsonl_blocks
    return jsonl_blocks(dataset.columns, dataset.rows)


@dataclass(frozen=True)
class Written:
    columns: list[str]
    stats: ExportStats
    sha256: str
    size_bytes: int


def dataset_write(*, dataset: Dataset, out: IO[bytes]) -> None:
    if dataset.options.format == "parquet":
        write_parquet(dataset.columns, dataset.rows, out)
    else:
        # Closed here, inside the caller's transaction, even when a write fails (a traceback
        # would keep the blocks alive): the pairs' blocks have a reader thread on the connection.
        with contextlib.closing(dataset_jsonl_blocks(dataset)) as blocks:
            for block in blocks:
                out.write(block)


def export_write(*, project: Project, kind: str, options: ExportOptions, out: IO[bytes]) -> Written:
    """Writes the export to `out` (a file opened for binary writing, at its start) and returns
    what was written, with the sha256 of the bytes."""
    with read_transaction():
        dataset = dataset_build(project=project, kind=kind, options=options)
        dataset_write(dataset=dataset, out=out)
    out.flush()
    out.seek(0)
    digest, size = hashlib.sha256(), 0
    while block := out.read(1 << 20):
        digest.update(block)
        size += len(block)
    return Written(
        columns=dataset.column_names,
        stats=dataset.stats,
        sha256=digest.hexdigest(),
        size_bytes=size,
    )


def export_tempfile(*, project: Project, kind: str, options: ExportOptions) -> IO[bytes]:
    """The export in an unnamed temporary file (gone when closed), rewound for reading: how a
    Parquet download is served, since Parquet's footer comes last."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller (a FileResponse) closes it
    try:
        export_write(project=project, kind=kind, options=options, out=handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle
