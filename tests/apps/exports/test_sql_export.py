"""The PostgreSQL pairs export (JSON built in SQL, streamed by COPY or a server-side cursor)
writes the same bytes and the same stats as the Python writers."""

import io

import pytest

from apps.exports.datasets import dataset_build
from apps.exports.files import export_write, jsonl_stream, read_transaction
from apps.exports.options import parse_export_options
from apps.exports.sql_export import sql_export_applies
from apps.exports.writers import write_jsonl
from apps.feedback.models import Judgment
from apps.projects.models import FeedbackKind
from tests.apps.exports.helpers import judge
from tests.factories import ProjectFactory, PromptFactory, add_member, make_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AWKWARD = 'quote " backslash \\ tab\t nl\n cr\r ctl\x01\x1f del\x7f \u2028 \u2029 é 😀 </script>'


def python_bytes(project, kind: str = "pairs", **data) -> tuple[bytes, dict]:
    options = parse_export_options(kind=kind, project_kind=project.kind, data=data)
    dataset = dataset_build(project=project, kind=kind, options=options)
    buffer = io.BytesIO()
    write_jsonl(dataset.columns, dataset.rows, buffer)
    return buffer.getvalue(), dataset.stats.as_dict()


def sql_bytes(project, kind: str = "pairs", **data) -> tuple[bytes, dict, bytes]:
    options = parse_export_options(kind=kind, project_kind=project.kind, data=data)
    out = io.BytesIO()
    written = export_write(project=project, kind=kind, options=options, out=out)
    streamed = b"".join(jsonl_stream(project=project, kind=kind, options=options))
    return out.getvalue(), written.stats.as_dict(), streamed


@pytest.fixture
def awkward_project():
    project = ProjectFactory(kind=FeedbackKind.PAIRWISE, overlap=3)
    people = [add_member(project) for _ in range(3)]
    tasks = [
        make_task(project, texts=[f"first {AWKWARD}", "second \u2028 plain"]),
        make_task(project, texts=["a", "b", "c"]),  # not a pair
        make_task(project),
    ]
    tasks[2].prompt.messages = [
        {"role": "system", "content": f"Be brief. {AWKWARD}"},
        {"role": "user", "content": "Why?\u2029"},
    ]
    tasks[2].prompt.save()
    lone = PromptFactory(project=project, messages=[{"role": "user", "content": AWKWARD}])
    tasks[0].prompt = lone
    tasks[0].save()
    judge(tasks[0], people[0], {"choice": "A", "strength": "much"})
    judge(tasks[0], people[1], {"choice": "B", "strength": None})
    judge(tasks[0], people[2], {"choice": "tie"})
    judge(tasks[1], people[0], {"choice": "A", "strength": "clearly"})
    judge(tasks[2], people[0], {"choice": "B", "strength": "negligibly"})
    judge(tasks[2], people[1], {"choice": "both_bad"})
    judge(tasks[2], people[2], {"choice": "A", "strength": "slightly"})
    Judgment.objects.create(  # imported: no annotator
        project=project,
        task=tasks[2],
        kind=tasks[2].kind,
        payload={"choice": "A", "strength": "clearly"},
        display_order=[],
        duration_ms=0,
    )
    return project


def test_the_sql_pairs_export_is_byte_identical_to_the_python_writer(awkward_project):
    expected, stats = python_bytes(awkward_project)
    copied, copied_stats, streamed = sql_bytes(awkward_project)

    assert expected.count(b"\n") == 5
    assert "\u2028".encode() in expected
    assert copied == expected
    assert streamed == expected
    assert (
        copied_stats
        == stats
        == {
            "rows": 5,
            "train": 0,
            "test": 0,
            "skipped": {"both_bad": 1, "not_a_pair": 1, "tie": 1},
        }
    )


def test_the_sql_path_is_taken_only_for_the_plain_pairs_export(awkward_project):
    def applies(**data):
        options = parse_export_options(kind="pairs", project_kind=awkward_project.kind, data=data)
        with read_transaction():
            return sql_export_applies(
                dataset_build(project=awkward_project, kind="pairs", options=options)
            )

    assert applies()
    assert not applies(form="conversational")
    assert not applies(aggregate="majority")
    assert not applies(split=0.5)
    assert not applies(format="parquet")


def test_options_outside_the_sql_path_still_write_the_python_bytes(awkward_project):
    for data in ({"form": "conversational"}, {"split": 0.5, "split_seed": 3}):
        expected, _ = python_bytes(awkward_project, **data)
        written, _, streamed = sql_bytes(awkward_project, **data)
        assert written == streamed == expected
