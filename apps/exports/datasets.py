"""An export as columns plus a one-pass stream of rows, read from the database in chunks.

Every kind orders its rows by (prompt, task, judgment id), so that the same data gives the same
rows in the same order, a task's judgments arrive together (aggregation is a group-by over the
stream), and memory holds one chunk at a time whatever the row count.
"""

import contextlib
import gc
import hashlib
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Func, QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from apps.corpus.models import Prompt, Response
from apps.exports.options import ExportOptions, parse_export_options
from apps.exports.writers import Column
from apps.labeling.models import TaskItem
from apps.projects.models import Project

CHUNK_ROWS = 10_000
T = TypeVar("T")

# A keyed row: (split key, row). The split key names the prompt (or conversation) a row came
# from, so a train/test split never puts one prompt on both sides.
KeyedRow = tuple[str, tuple]


@dataclass
class ExportStats:
    rows: int = 0
    train: int = 0
    test: int = 0
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "train": self.train,
            "test": self.test,
            "skipped": dict(sorted(self.skipped.items())),
        }


@dataclass
class Dataset:
    """Columns and rows of one export. `rows` can be read once; `stats` is complete after.
    `jsonl_blocks`, where the kind writes its JSON Lines itself (the plain pairs), is the same
    export as UTF-8 blocks of whole lines, byte for byte what `writers.jsonl_blocks` makes of
    `rows`, only faster: read one or the other, once."""

    kind: str
    options: ExportOptions
    columns: list[Column]
    rows: Iterator[tuple]
    stats: ExportStats
    jsonl_blocks: Iterator[bytes] | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def dataset_build(*, project: Project, kind: str, options: ExportOptions | dict | None) -> Dataset:
    """The export `kind` of the project. Nothing is read until the rows are iterated."""
    from apps.exports.kinds import BUILDERS, LINE_BUILDERS

    if not isinstance(options, ExportOptions):
        options = parse_export_options(kind=kind, project_kind=project.kind, data=options)
    stats = ExportStats()
    columns, keyed_rows = BUILDERS[kind](project, options, stats)
    if options.split > 0:
        columns = [*columns, Column("split", "str")]
    blocks = LINE_BUILDERS[kind](project, options, stats) if kind in LINE_BUILDERS else None
    return Dataset(
        kind=kind,
        options=options,
        columns=columns,
        rows=_split_rows(keyed_rows, options, stats),
        stats=stats,
        jsonl_blocks=blocks,
    )


def split_side(key: str, *, share: float, seed: int) -> str:
    """The side a prompt key falls on: "test" for about `share` of the keys, drawn by a seeded
    sha256 of the key, so the same key lands on the same side on every run and machine."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < share else "train"


def _split_rows(keyed_rows: Iterable[KeyedRow], options: ExportOptions, stats: ExportStats):
    if not options.split:
        for _, row in keyed_rows:
            stats.rows += 1
            yield row
        return
    last_key, side = None, "train"
    for key, row in keyed_rows:
        if key != last_key:
            last_key, side = key, split_side(key, share=options.split, seed=options.split_seed)
        if options.subset != "all" and side != options.subset:
            continue
        stats.rows += 1
        if side == "test":
            stats.test += 1
        else:
            stats.train += 1
        yield (*row, side)


def prompt_value(messages: list[dict], form: str) -> str | list[dict]:
    """A prompt in TRL's standard form (text; a multi-turn prompt as "role: content" lines) or
    conversational form (the list of messages)."""
    if form == "conversational":
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def completion_value(text: str, form: str) -> str | list[dict]:
    if form == "conversational":
        return [{"role": "assistant", "content": text}]
    return text


def text_type(form: str) -> str:
    return "messages" if form == "conversational" else "str"


class Enriched(NamedTuple):
    """One judgment row with what it refers to: its task's responses in canonical order
    ([(response id, text), ...], A first) and its prompt in the export's form (one object per
    prompt and chunk, so encoders can tell a repeated prompt by identity)."""

    row: tuple
    responses: list[tuple[int, str]]
    prompt: object


def enriched_judgments(
    queryset: QuerySet, fields: tuple[str, ...], *, form: str
) -> Iterator[Enriched]:
    """Rows of `fields` (the first three must be id, task_id, task__prompt_id) with their task's
    responses and prompt, fetched per chunk: three queries per CHUNK_ROWS judgments."""
    rows = queryset.values_list(*fields).iterator(chunk_size=CHUNK_ROWS)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        responses = task_responses({row[1] for row in chunk})
        prompts = prompt_values({row[2] for row in chunk}, form=form)
        for row in chunk:
            yield Enriched(row, responses.get(row[1], []), prompts[row[2]])


class _CollectorPause:
    """A context in which Python's cyclic garbage collector is off, as long as any thread is in
    one (it is back on, if it was on, when the last leaves). For the export's own work: the
    rows of a chunk live long enough to set off the collector's full passes over the heap,
    about 1 s of CPU per 1,000,000 judgments, and nothing there makes a cycle for it to find.
    One shared instance, so that entering it allocates nothing that could start a collection."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inside = 0
        self._was_enabled = False

    def __enter__(self):
        with self._lock:
            if not self._inside:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._inside += 1

    def __exit__(self, *exc):
        with self._lock:
            self._inside -= 1
            if not self._inside and self._was_enabled:
                gc.enable()


collector_paused = _CollectorPause()
_DONE = object()


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items, each read one ahead in a second thread on this thread's database connection:
    on PostgreSQL the server then reads the next chunk while Python writes out this one, where
    the two would take turns. This thread leaves the connection alone until the items are
    done or closed (the reader is stopped and joined then). Elsewhere, the items as they come."""
    if connection.vendor != "postgresql":
        yield from items
        return
    shared = connections[DEFAULT_DB_ALIAS]
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(message: tuple) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                handoff.put(message, timeout=0.05)
                return True
        return False

    def read() -> None:
        connections[DEFAULT_DB_ALIAS] = shared
        try:
            more = True
            while more:
                with collector_paused:  # the message too: making it could start a collection
                    item = next(items, _DONE)
                    more = item is not _DONE
                    message = (True, item) if more else (False, None)
                if not hand_over(message):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            hand_over((False, error))
        finally:
            items.close()
            del connections[DEFAULT_DB_ALIAS]

    shared.inc_thread_sharing()
    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            more, item = handoff.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        reader.join()
        shared.dec_thread_sharing()


def _id_filter(field: str, ids: set[int]) -> dict:
    """A filter on `field` for `ids`: a range when they are dense (the usual case, since rows
    come in prompt and task order; two bound parameters instead of thousands), else a list."""
    low, high = min(ids), max(ids)
    if high - low < 2 * len(ids):
        return {f"{field}__gte": low, f"{field}__lte": high}
    return {f"{field}__in": ids}


def raw_rows(queryset: QuerySet) -> list[tuple]:
    """A values_list queryset's rows as the database driver returns them, for columns that
    need no conversion (ints, text): without the ORM's per-row work, which costs about as much
    as the driver's for two short columns."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def task_responses(
    task_ids: set[int], *, as_json: bool = False
) -> dict[int, list[tuple[int, str]]]:
    """Each task's responses in canonical order. The items and the texts are two range reads
    (the texts by id range where the ids are dense) rather than one join, which would look up
    each response by its key. With `as_json` (PostgreSQL only), each text as a JSON string,
    written by the database: its to_json escapes as json's encode_basestring does."""
    by_task: dict[int, list[tuple[int, str]]] = {}
    if not task_ids:
        return by_task
    items = [
        (task_id, response_id)
        for task_id, response_id in raw_rows(
            TaskItem.objects.filter(**_id_filter("task_id", task_ids))
            .order_by("task_id", "position")
            .values_list("task_id", "response_id")
        )
        if task_id in task_ids
    ]
    if not items:
        return by_task
    responses = Response.objects.filter(
        **_id_filter("pk", {response_id for _, response_id in items})
    ).order_by()
    if as_json:
        responses = responses.annotate(
            text_json=Cast(Func("text", function="to_json"), TextField())
        )
    texts = dict(raw_rows(responses.values_list("pk", "text_json" if as_json else "text")))
    for task_id, response_id in items:
        if task_id in by_task:
            by_task[task_id].append((response_id, texts[response_id]))
        else:
            by_task[task_id] = [(response_id, texts[response_id])]
    return by_task


def prompt_values(prompt_ids: set[int], *, form: str) -> dict[int, object]:
    if not prompt_ids:
        return {}
    prompts = Prompt.objects.filter(**_id_filter("pk", prompt_ids))
    values: dict[int, object] = {}
    if form != "conversational":
        # A one-message prompt is its content: read as text, without decoding the messages.
        rest = set()
        for pk, first, second in raw_rows(
            prompts.annotate(
                first=KT("messages__0__content"), second=KT("messages__1")
            ).values_list("pk", "first", "second")
        ):
            if pk not in prompt_ids:
                continue
            if first is not None and second is None:
                values[pk] = first
            else:
                rest.add(pk)
        if not rest:
            return values
        prompts = Prompt.objects.filter(pk__in=rest)
    for pk, messages in prompts.values_list("pk", "messages"):
        if pk in prompt_ids:
            values[pk] = prompt_value(messages, form)
    return values
