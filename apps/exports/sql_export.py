"""The per-judgment pairs export on PostgreSQL, with each JSON line built in SQL and streamed by
`COPY ... TO STDOUT` (into a file) or a server-side cursor (into a streamed download).

Byte for byte what `writers.jsonl_lines` writes for the same rows (tests/apps/exports/
test_sql_export.py compares the two): keys in column order, compact separators, strings
through PostgreSQL's `to_json`, which escapes exactly what Python's `json` does with
ensure_ascii=False (quote, backslash, control characters as \\b \\f \\n \\r \\t or lowercase
\\u00xx; U+2028/U+2029 stay raw, as the Python path writes them), margins as the strength
step's float ("1.0" .. "4.0"). Only the plain case takes this path: kind pairs or
hindsight_pairs, standard form, no aggregate, no split, no judges; everything else, and every
other database, goes through `dataset_build` and the Python writers.
"""

from collections import Counter
from collections.abc import Iterator
from typing import IO

from django.db import connection
from django.db.models.fields.json import KT

from apps.corpus.models import Prompt, Response
from apps.exports.datasets import Dataset
from apps.exports.kinds.common import BASE_FIELDS
from apps.exports.models import ExportKind
from apps.exports.selectors import judgments_for_export
from apps.exports.writers import JSONL_BLOCK_BYTES, _encode
from apps.feedback.models import Phase
from apps.feedback.payloads import STRENGTHS
from apps.labeling.models import TaskItem
from apps.projects.models import Project

PHASES = {ExportKind.PAIRS: Phase.MAIN, ExportKind.HINDSIGHT_PAIRS: Phase.HINDSIGHT}
COLUMNS = (
    "prompt",
    "chosen",
    "rejected",
    "margin",
    "prompt_id",
    "task_id",
    "chosen_response_id",
    "rejected_response_id",
    "judgment_id",
    "annotator_id",
)
FETCH_ROWS = 2_000


def sql_export_applies(dataset: Dataset) -> bool:
    options = dataset.options
    return (
        connection.vendor == "postgresql"
        and dataset.kind in PHASES
        and options.format == "jsonl"
        and options.form == "standard"
        and options.aggregate == "none"
        and not options.split
        and not options.include_judges
        and tuple(dataset.column_names) == COLUMNS
    )


def _judgments_sql(project: Project, phase: str) -> tuple[str, tuple]:
    """The judgments the Python path reads (same filters), as SQL with its parameters."""
    queryset = (
        judgments_for_export(project=project)
        .filter(phase=phase)
        .annotate(choice=KT("payload__choice"), strength=KT("payload__strength"))
        .order_by()
        .values_list(*BASE_FIELDS, "choice", "strength")
    )
    return queryset.query.sql_with_params()


def _judged_pairs_sql(project: Project, phase: str) -> tuple[str, tuple]:
    """Each judgment with its task's responses (A first, by position) and its prompt's text."""
    judgments, params = _judgments_sql(project, phase)
    strength_steps = " ".join(
        f"WHEN '{name}' THEN '{float(step)!r}'" for step, name in enumerate(STRENGTHS, start=1)
    )
    sql = f"""
        SELECT j.id, j.task_id, j.prompt_id, j.annotator_id, j.choice,
               CASE j.strength {strength_steps} ELSE 'null' END AS margin,
               r.n, r.ids, r.texts,
               CASE WHEN jsonb_array_length(p.messages) = 1
                    THEN p.messages -> 0 ->> 'content'
                    ELSE coalesce((
                        SELECT string_agg((m ->> 'role') || ': ' || (m ->> 'content'), E'\\n'
                                          ORDER BY i)
                        FROM jsonb_array_elements(p.messages) WITH ORDINALITY AS e(m, i)
                    ), '')
               END AS prompt_text
        FROM ({judgments}) AS j(id, task_id, prompt_id, annotator_id, choice, strength)
        JOIN {Prompt._meta.db_table} p ON p.id = j.prompt_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS n,
                   array_agg(ti.response_id ORDER BY ti.position, ti.id) AS ids,
                   array_agg(rs.text ORDER BY ti.position, ti.id) AS texts
            FROM {TaskItem._meta.db_table} ti
            JOIN {Response._meta.db_table} rs ON rs.id = ti.response_id
            WHERE ti.task_id = j.task_id
        ) AS r
    """
    return sql, params


def _lines_sql(project: Project, phase: str) -> tuple[str, tuple]:
    judged, params = _judged_pairs_sql(project, phase)
    keys = [_encode(name) + ":" for name in COLUMNS]
    win, lose = (
        "(CASE WHEN x.choice = 'A' THEN 1 ELSE 2 END)",
        "(CASE WHEN x.choice = 'A' THEN 2 ELSE 1 END)",
    )
    values = [
        "to_json(x.prompt_text)::text",
        f"to_json(x.texts[{win}])::text",
        f"to_json(x.texts[{lose}])::text",
        "x.margin",
        "x.prompt_id::text",
        "x.task_id::text",
        f"x.ids[{win}]::text",
        f"x.ids[{lose}]::text",
        "x.id::text",
        "coalesce(x.annotator_id::text, 'null')",
    ]
    body = " || ',' || ".join(
        f"'{key}' || {value}" for key, value in zip(keys, values, strict=True)
    )
    sql = (
        f"SELECT '{{' || {body} || '}}' FROM ({judged}) AS x "
        "WHERE x.n = 2 AND x.choice IN ('A', 'B') ORDER BY x.prompt_id, x.task_id, x.id"
    )
    return sql, params


def _count_skipped(project: Project, phase: str, dataset: Dataset) -> None:
    """The stats the Python path keeps: rows written, and skipped judgments by reason."""
    judged, params = _judged_pairs_sql(project, phase)
    sql = (
        "SELECT CASE WHEN x.n <> 2 THEN 'not_a_pair' WHEN x.choice IN ('A', 'B') THEN NULL "
        "ELSE coalesce(nullif(x.choice, ''), 'unknown') END AS reason, count(*) "
        f"FROM ({judged}) AS x GROUP BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = dict(cursor.fetchall())
    dataset.stats.rows = counts.pop(None, 0)
    dataset.stats.skipped = Counter({reason: n for reason, n in counts.items() if n})


def _copy_sql(sql: str, params: tuple) -> str:
    """COPY of a query, with each line written exactly as selected: CSV with a quote and a
    delimiter that JSON text never holds raw (to_json escapes every control character), so
    nothing is quoted or escaped."""
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(sql, params).decode()
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"


def sql_export_write(*, project: Project, dataset: Dataset, out: IO[bytes]) -> None:
    """Writes the export to `out` through COPY and fills `dataset.stats`. Call inside
    `files.read_transaction()`, so the count and the rows see the same data."""
    phase = PHASES[dataset.kind]
    _count_skipped(project, phase, dataset)
    sql, params = _lines_sql(project, phase)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(_copy_sql(sql, params), out)


def sql_export_blocks(*, project: Project, dataset: Dataset) -> Iterator[bytes]:
    """The export as UTF-8 blocks of about JSONL_BLOCK_BYTES, read through a server-side cursor
    as they are sent; `dataset.stats` is filled first. Call inside `files.read_transaction()`."""
    phase = PHASES[dataset.kind]
    _count_skipped(project, phase, dataset)
    sql, params = _lines_sql(project, phase)
    buffer: list[str] = []
    size = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            for (line,) in rows:
                buffer.append(line)
                buffer.append("\n")
                size += len(line) + 1
            if size >= JSONL_BLOCK_BYTES:
                yield "".join(buffer).encode()
                buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()
