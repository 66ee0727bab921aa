"""Hostile files, through both import kinds (JSONL prompts and TRL datasets): each bad line fails
with a clear, line-numbered reason, or the file imports — in bounded memory — and the job ends.

Big files are written straight into storage a chunk at a time, never held whole in memory, and
the import's memory is measured as the growth of the process's peak resident set (Linux:
/proc/self/clear_refs resets the peak)."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from apps.core.jobs import JobStatus
from apps.corpus.models import Prompt, Response
from apps.exports.importing import dataset_import_run
from apps.exports.models import DatasetImport
from apps.feedback.models import Judgment
from apps.imports.models import ImportJob
from apps.imports.services import import_job_run
from apps.labeling.models import Task

pytestmark = pytest.mark.django_db

MB = 1 << 20
MEMORY_BOUND = 64 * MB


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # No heartbeat during these (single-connection) tests: SQLite would make it wait on the
    # test's own open transaction.
    settings.ARBITER_JOB_HEARTBEAT_SECONDS = 3600


def prompt_row(text: str, i: int = 0) -> dict:
    return {"prompt": text, "responses": [f"yes {i}", f"no {i}"]}


def preference_row(text: str, i: int = 0) -> dict:
    return {"prompt": text, "chosen": f"yes {i}", "rejected": f"no {i}"}


KINDS = {
    "prompts": (ImportJob, prompt_row, lambda pk: import_job_run(job_id=pk)),
    "dataset": (DatasetImport, preference_row, lambda pk: dataset_import_run(import_id=pk)),
}


def stored_job(kind: str, project, user, write: Callable, name: str = "rows.jsonl"):
    """A job of `kind` whose file `write(handle)` puts into storage (chunk by chunk)."""
    model = KINDS[kind][0]
    path = Path(django_settings.MEDIA_ROOT) / name
    with path.open("wb") as handle:
        write(handle)
    extra = {"pair_strategy": "all", "max_pairs_per_prompt": 10} if model is ImportJob else {}
    return model.objects.create(
        project=project, created_by=user, file=name, original_name=name, **extra
    )


def run(kind: str, job):
    return KINDS[kind][2](job.pk)


def jsonl(*lines) -> Callable:
    def write(handle):
        for line in lines:
            handle.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            handle.write(b"\n")

    return write


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextmanager
def peak_memory_growth() -> Iterator[dict]:
    """Yields a dict whose "bytes" is, after the block, how far the process's peak resident
    memory rose above what it held when the block began."""
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from now
    growth: dict = {}
    yield growth
    growth["bytes"] = (_status_kb("VmHWM") - before) * 1024


def nothing_written() -> bool:
    return not (
        Prompt.objects.exists()
        or Response.objects.exists()
        or Task.objects.exists()
        or Judgment.objects.exists()
    )


# ---------------------------------------------------------------- bytes the database refuses


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b'{"prompt": "a\x00b", "responses": ["x", "y"], "chosen": "x", "rejected": "y"}', "NUL"),
        (lambda row: {**row("nul \u0000 inside")}, "holds a NUL character"),
        (lambda row: {**row("fine"), "id": "x\u0000"}, "the value at id holds a NUL"),
        (lambda row: {**row("\ud800 lone")}, "lone surrogate (\\ud800)"),
        (
            b'{"prompt": "caf\xe9", "responses": ["x", "y"], "chosen": "x", "rejected": "y"}',
            "UTF-8",
        ),
        (b'{"prompt": "p", "responses": ["x", "y"], "chosen": "x", "rejected": NaN}', "NaN"),
    ],
    ids=["raw-nul", "escaped-nul", "nul-in-id", "lone-surrogate", "latin-1", "nan"],
)
def test_a_line_the_database_would_refuse_fails_the_import_on_its_line(
    kind, bad_line, reason, project, admin_user
):
    row = KINDS[kind][1]
    bad = bad_line if isinstance(bad_line, bytes) else json.dumps(bad_line(row)).encode()
    job = stored_job(kind, project, admin_user, jsonl(row("first", 1), bad, row("third", 3)))

    job = run(kind, job)

    assert job.status == JobStatus.FAILED and job.is_finished
    assert [e["line"] for e in job.errors] == [2], job.errors
    assert reason in job.errors[0]["error"]
    assert job.error == "1 line had errors; nothing was imported."
    assert nothing_written()


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_the_database_refuses_at_write_time_fails_the_job_with_the_reason(
    kind, project, admin_user
):
    """What no check can foresee (here a trigger refusing one text) still ends the job, and
    nothing of the file is left behind."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_text() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.text = 'refused' THEN RAISE EXCEPTION 'this text is refused'; END IF; "
                "RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON corpus_response "
                "FOR EACH ROW EXECUTE FUNCTION refuse_text()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON corpus_response "
                "WHEN NEW.text = 'refused' BEGIN SELECT RAISE(ABORT, 'this text is refused'); END"
            )
    row = KINDS[kind][1]
    refused = {**row("p"), "responses": ["refused", "b"], "chosen": "refused", "rejected": "b"}
    job = stored_job(kind, project, admin_user, jsonl(row("fine", 1), refused))

    job = run(kind, job)

    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The database refused the rows (")
    assert "this text is refused" in job.error and "nothing was imported" in job.error
    assert nothing_written()


# ---------------------------------------------------------------- shapes that crash parsers


@pytest.mark.parametrize("kind", KINDS)
def test_deeply_nested_json_is_a_line_error_not_a_crash(kind, project, admin_user):
    row = KINDS[kind][1]
    job = stored_job(
        kind,
        project,
        admin_user,
        jsonl(
            row("fine", 1),
            b"[" * 200_000,  # deeper than Python's recursion limit
            {**row("meta"), "metadata": {"a": json.loads("[" * 100 + "]" * 100)}},
        ),
    )

    job = run(kind, job)

    assert job.status == JobStatus.FAILED
    assert [(e["line"], "nested deeper than 64 levels" in e["error"]) for e in job.errors] == [
        (2, True),
        (3, True),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_line_of_hundreds_of_megabytes_is_a_line_error_in_bounded_memory(
    kind, project, admin_user
):
    row = KINDS[kind][1]

    def write(handle):
        handle.write(b'{"prompt": "')
        block = b"x" * MB
        for _ in range(300):  # 300 MiB on one line, written a MiB at a time
            handle.write(block)
        handle.write(b'", "responses": ["a", "b"], "chosen": "a", "rejected": "b"}\n')
        handle.write(json.dumps(row("fine", 2)).encode() + b"\n")
        handle.write(b"{not json\n")

    job = stored_job(kind, project, admin_user, write, name="huge.jsonl")
    assert job.file.size > 300 * MB

    with peak_memory_growth() as memory:
        job = run(kind, job)

    assert job.status == JobStatus.FAILED
    assert job.errors == [
        {
            "line": 1,
            "error": "the line is longer than the limit of 8,388,608 bytes "
            "(ARBITER_IMPORT_MAX_LINE_BYTES)",
        },
        {"line": 3, "error": "not valid JSON (Expecting property name enclosed in double "
         "quotes at column 2)"},
    ]  # fmt: skip
    assert memory["bytes"] < MEMORY_BOUND, f"peak memory grew by {memory['bytes'] / MB:.0f} MiB"
    assert nothing_written()


# ---------------------------------------------------------------- many rows


def test_a_million_rows_are_checked_in_bounded_memory_and_the_bad_last_one_is_named(
    project, admin_user
):
    def write(handle):
        for start in range(0, 1_000_000 - 1, 10_000):
            stop = min(start + 10_000, 1_000_000 - 1)
            handle.write(b"".join(b'{"prompt": "q%d"}\n' % i for i in range(start, stop)))
        handle.write(b'{"prompt": ""}\n')

    job = stored_job("prompts", project, admin_user, write, name="million.jsonl")

    with peak_memory_growth() as memory:
        job = import_job_run(job_id=job.pk)

    assert job.status == JobStatus.FAILED
    assert (job.total_rows, job.processed_rows, job.error_count) == (1_000_000, 1_000_000, 1)
    assert job.errors == [
        {"line": 1_000_000, "error": 'a row needs a non-empty "prompt" string or a "messages" list'}
    ]
    assert memory["bytes"] < MEMORY_BOUND, f"peak memory grew by {memory['bytes'] / MB:.0f} MiB"
    assert nothing_written()


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("prompts", 10_000),
        ("dataset", 10_000),
        pytest.param("prompts", 200_000, marks=pytest.mark.slow),
        pytest.param("dataset", 200_000, marks=pytest.mark.slow),
    ],
)
def test_a_large_file_imports_whole_in_bounded_memory(kind, rows, project, admin_user):
    row = KINDS[kind][1]

    def write(handle):
        for start in range(0, rows, 5_000):
            handle.write(
                b"".join(
                    json.dumps(row(f"question {i // 2}", i)).encode() + b"\n"
                    for i in range(start, start + 5_000)
                )
            )

    job = stored_job(kind, project, admin_user, write, name="large.jsonl")

    with peak_memory_growth() as memory:
        job = run(kind, job)

    assert job.status == JobStatus.SUCCEEDED, job.errors or job.error
    assert Task.objects.filter(project=project).count() == rows
    # Two rows share each prompt in the dataset kind (one Prompt per distinct prompt there).
    assert job.prompts_created == (rows if kind == "prompts" else rows // 2)
    assert Response.objects.count() == 2 * rows
    assert memory["bytes"] < MEMORY_BOUND, f"peak memory grew by {memory['bytes'] / MB:.0f} MiB"
