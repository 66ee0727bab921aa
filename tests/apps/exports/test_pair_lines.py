"""The plain pairs export writes its JSON Lines itself (apps/exports/kinds/pairs.py
pair_jsonl_lines): byte for byte what the Python writers make of its rows, with the same
stats, whatever the texts, options and skipped judgments."""

import gc
import io
import threading

import pytest
from django.db import connection

from apps.exports.datasets import dataset_build, read_ahead
from apps.exports.files import export_write
from apps.exports.writers import jsonl_blocks
from apps.projects.models import FeedbackKind, Project
from tests.apps.exports.helpers import judge
from tests.factories import PromptFactory, UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db

TRICKY = [
    'She said "no" \\ then left',
    "Line one\nline two\ttab \x01 \x1f \x7f",
    "Unicode: é ü 漢字 🙂 and\u2028separators\u2029here",
    "",
    'Escapes as text: \\n \\t \\\\ \\" \\u00e9 \r\b\f end',
]
OPTIONS = [
    {},
    {"form": "conversational"},
    {"split": 0.5, "split_seed": 3},
    {"split": 0.5, "split_seed": 3, "subset": "test"},
    {"split": 0.4, "split_seed": 1, "subset": "train", "form": "conversational"},
]


def both_ways(project, kind: str, options: dict) -> tuple[bytes, dict, bytes, dict]:
    fast = dataset_build(project=project, kind=kind, options=options)
    assert fast.jsonl_blocks is not None
    fast_bytes = b"".join(fast.jsonl_blocks)
    slow = dataset_build(project=project, kind=kind, options=options)
    slow_bytes = b"".join(jsonl_blocks(slow.columns, slow.rows, block_bytes=64))
    return fast_bytes, fast.stats.as_dict(), slow_bytes, slow.stats.as_dict()


def seed_judgments(project, *, phase: str = "main") -> None:
    people = [add_member(project, UserFactory()) for _ in range(3)]
    verdicts = [
        {"choice": "A", "strength": "much"},
        {"choice": "B", "strength": "negligibly"},
        {"choice": "tie", "strength": None},
        {"choice": "both_bad"},
        {"choice": "A"},
        {"choice": "B", "strength": "enormously"},
        {},
    ]
    for i in range(12):
        texts = [TRICKY[i % len(TRICKY)], TRICKY[(i + 1) % len(TRICKY)] + f" #{i}"]
        task = make_task(project, texts=texts if i % 5 else [*texts, "a third"])
        if i % 3 == 0:
            task.prompt.messages = [
                {"role": "system", "content": 'Be "brief"\n'},
                {"role": "user", "content": TRICKY[i % len(TRICKY)]},
            ]
            task.prompt.save()
        for k, person in enumerate(people[: 1 + i % 3]):
            fields = {"phase": phase}
            if phase == "hindsight":
                fields["previous"] = judge(task, person, {"choice": "A"}, phase="foresight")
            judge(task, person, verdicts[(i + k) % len(verdicts)], **fields)
        if i % 4 == 0:
            judge(task, None, {"choice": "B", "strength": "slightly"}, phase=phase)
    make_task(project, is_gold=True, gold_payload={"choice": "A"})
    PromptFactory(project=project)


@pytest.mark.parametrize("options", OPTIONS)
def test_pair_lines_are_the_writers_bytes_and_stats(project, options):
    seed_judgments(project)

    fast, fast_stats, slow, slow_stats = both_ways(project, "pairs", options)

    assert fast == slow
    assert fast_stats == slow_stats
    assert fast_stats["rows"] > 0 and fast_stats["skipped"]


def test_hindsight_pair_lines_are_the_writers_bytes_and_stats(project):
    project.kind = FeedbackKind.HINDSIGHT
    project.save()
    seed_judgments(project, phase="hindsight")

    fast, fast_stats, slow, slow_stats = both_ways(project, "hindsight_pairs", {})

    assert (fast, fast_stats) == (slow, slow_stats)
    assert fast_stats["rows"] > 0


def test_aggregated_and_judged_pairs_go_through_the_writers(project):
    seed_judgments(project)
    for options in ({"aggregate": "majority"}, {"include_judges": True}):
        assert dataset_build(project=project, kind="pairs", options=options).jsonl_blocks is None


def test_the_garbage_collector_is_on_again_after_an_export_read_or_left_half_way(project):
    seed_judgments(project)

    assert list(dataset_build(project=project, kind="pairs", options={}).jsonl_blocks)
    assert gc.isenabled()
    blocks = dataset_build(project=project, kind="pairs", options={}).jsonl_blocks
    next(blocks)
    blocks.close()
    assert gc.isenabled()


def planner_joins() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
        )
        return cursor.fetchone()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner settings")
def test_the_streaming_plan_puts_the_planner_settings_back_as_they_were(project):
    seed_judgments(project)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_mergejoin = off")  # the transaction's own choice

    blocks = dataset_build(project=project, kind="pairs", options={}).jsonl_blocks
    next(blocks)  # the cursor is declared and being read
    blocks.close()

    assert planner_joins() == ("on", "off")


def test_read_ahead_reads_on_this_connection_hands_over_errors_and_stops_when_closed(project):
    def counts():
        for _ in range(5):
            yield Project.objects.filter(pk=project.pk).count()  # sees this test's transaction

    def failing():
        yield 1
        raise ValueError("the reader's error")

    assert list(read_ahead(counts())) == [1] * 5
    with pytest.raises(ValueError, match="the reader's error"):
        list(read_ahead(failing()))
    ahead = read_ahead(counts())
    assert next(ahead) == 1
    ahead.close()

    assert not [t for t in threading.enumerate() if t.name == "export-read-ahead"]
    assert Project.objects.filter(pk=project.pk).exists()


def test_a_failed_write_stops_the_reader_thread_before_the_transaction_ends(project, monkeypatch):
    seed_judgments(project)
    monkeypatch.setattr("apps.exports.kinds.pairs.CHUNK_ROWS", 1)  # the reader has more to read

    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError("no space left")

    with pytest.raises(OSError, match="no space left") as failure:  # its traceback holds the export
        export_write(project=project, kind="pairs", options={}, out=FullDisk())

    assert not [t for t in threading.enumerate() if t.name == "export-read-ahead"]
    assert failure.value
