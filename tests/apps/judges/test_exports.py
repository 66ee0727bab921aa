"""Judges' labels leave the project only when an export asks for them, with their weight."""

import pytest

from apps.core.errors import ApplicationError
from apps.exports.options import parse_export_options
from tests.apps.exports.helpers import export_rows, judge, load_hf, write_export
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import content_judge, endpoint_judge, member, run_all
from tests.factories import make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(project):
    """Three pairs a person judged; an endpoint judge labels them and one more (tricky: its two
    orders disagree)."""
    person = member(project, "ann")
    tasks = [
        make_task(project, texts=["a good answer", "a poor answer"]),
        make_task(project, texts=["a poor answer", "a good answer"]),
        make_task(project, texts=["tricky one", "tricky two"]),
    ]
    for task in tasks:
        judge(task, person, {"choice": "A", "strength": "slightly"})
    make_task(project, texts=["also good", "not so"])
    with openai_server() as server:
        server.responder = content_judge
        job = run_all(endpoint_judge(project, server))
    assert job.labels_written == 8
    return tasks


def test_an_export_leaves_the_judges_out_unless_asked(project, judged):
    rows, stats = export_rows(project, "pairs")

    assert len(rows) == 3
    assert {row["annotator_id"] for row in rows} != {None}
    assert "source" not in rows[0] and "weight" not in rows[0]
    assert stats["skipped"] == {}


def test_an_export_with_judges_adds_their_consistent_pairs_with_a_weight(project, judged):
    rows, stats = export_rows(project, "pairs", include_judges=True, judges_weight=0.25)

    people = [row for row in rows if row["source"] == "people"]
    judges = [row for row in rows if row["source"] == "judge:gpt-judge"]
    assert len(people) == 3 and {row["weight"] for row in people} == {1.0}
    # Three of the judge's four tasks agree across orders; the tricky one is left out.
    assert len(judges) == 3 and {row["weight"] for row in judges} == {0.25}
    assert {row["chosen"] for row in judges} == {"a good answer", "also good"}
    assert {row["margin"] for row in judges} == {3.0}  # "clearly" in both orders
    assert {row["judgment_id"] for row in judges} == {None}
    assert stats["skipped"] == {"judge_inconsistent": 1}


def test_a_pairs_file_with_judges_loads_with_datasets(project, judged, tmp_path):
    path = write_export(project, "pairs", tmp_path / "pairs.parquet", format="parquet",
                        include_judges=True, judges_weight=0.5)  # fmt: skip

    loaded = load_hf(path)

    assert loaded.num_rows == 6
    assert sorted(set(loaded["weight"])) == [0.5, 1.0]


def test_judges_are_exported_only_as_pairs_one_row_each(project):
    with pytest.raises(ApplicationError, match="aggregate none"):
        parse_export_options(
            kind="pairs",
            project_kind="pairwise",
            data={"include_judges": True, "aggregate": "majority"},
        )
    with pytest.raises(ApplicationError, match="at most 1"):
        parse_export_options(
            kind="pairs", project_kind="pairwise", data={"include_judges": True, "judges_weight": 2}
        )
    people_only = parse_export_options(kind="pairs", project_kind="pairwise", data={})
    assert "include_judges" not in people_only.normal()
