"""Each export kind: its columns and values, what it skips and counts, and that `datasets`
reads it."""

import pytest
from django.utils import timezone

from apps.chat.models import Conversation, Message, Reaction
from apps.core.errors import ApplicationError
from apps.exports.datasets import split_side
from apps.projects.models import FeedbackKind, Membership, Principle
from tests.apps.exports.helpers import export_rows, judge, load_hf, write_export
from tests.factories import PromptFactory, UserFactory, add_member, make_task
from trainer.labels import row_preference

pytestmark = pytest.mark.django_db


@pytest.fixture
def judges(project):
    return [add_member(project, UserFactory()) for _ in range(3)]


def texts(task):
    return [item.response.text for item in task.items.order_by("position")]


# ---------------------------------------------------------------- pairs


def test_pairs_put_the_chosen_response_first_with_its_strength_as_margin(project, judges):
    first, second = make_task(project), make_task(project)
    judge(first, judges[0], {"choice": "A", "strength": "much"})
    judge(second, judges[0], {"choice": "B", "strength": "negligibly"})

    rows, stats = export_rows(project, "pairs")

    assert [(r["chosen"], r["rejected"], r["margin"]) for r in rows] == [
        (texts(first)[0], texts(first)[1], 4.0),
        (texts(second)[1], texts(second)[0], 1.0),
    ]
    assert rows[0]["prompt"] == first.prompt.text
    assert rows[0]["annotator_id"] == judges[0].pk
    assert stats["rows"] == 2


def test_ties_and_both_bad_are_not_pairs_but_are_counted(project, judges):
    task = make_task(project)
    judge(task, judges[0], {"choice": "tie", "strength": None})
    judge(task, judges[1], {"choice": "both_bad", "strength": None})
    judge(task, judges[2], {"choice": "A", "strength": "clearly"})

    rows, stats = export_rows(project, "pairs")

    assert len(rows) == 1
    assert stats["skipped"] == {"both_bad": 1, "tie": 1}


def test_conversational_pairs_hold_messages(project, judges):
    task = make_task(project)
    task.prompt.messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
    ]
    task.prompt.save()
    judge(task, judges[0], {"choice": "A", "strength": "slightly"})

    [conversational], _ = export_rows(project, "pairs", form="conversational")
    [standard], _ = export_rows(project, "pairs")

    assert conversational["prompt"] == task.prompt.messages
    assert conversational["chosen"] == [{"role": "assistant", "content": texts(task)[0]}]
    assert conversational["rejected"] == [{"role": "assistant", "content": texts(task)[1]}]
    assert standard["prompt"] == "system: Be brief.\nuser: 2+2?"


@pytest.mark.parametrize(
    ("method", "margin"),
    [("majority", 2.5), ("mean_strength", 0.333333), ("bradley_terry", 0.510826)],
)
def test_aggregated_pairs_give_one_row_per_task(project, judges, method, margin):
    task = make_task(project)
    judge(task, judges[0], {"choice": "A", "strength": "clearly"})
    judge(task, judges[1], {"choice": "A", "strength": "slightly"})
    judge(task, judges[2], {"choice": "B", "strength": "much"})

    [row], _ = export_rows(project, "pairs", aggregate=method)

    assert row["chosen"] == texts(task)[0]
    assert row["margin"] == pytest.approx(margin, abs=1e-6)
    assert (row["n_judgments"], row["votes_chosen"], row["votes_rejected"]) == (3, 2, 1)
    # Steps: slightly 2, clearly 3, much 4; the trainer turns them into P(chosen) = 5 / (5 + 4).
    assert (row["strength_chosen"], row["strength_rejected"]) == (5.0, 4.0)
    assert row_preference(row) == pytest.approx(5 / 9)


def test_an_even_split_makes_no_aggregated_pair(project, judges):
    task = make_task(project)
    judge(task, judges[0], {"choice": "A", "strength": "clearly"})
    judge(task, judges[1], {"choice": "B", "strength": "clearly"})

    rows, stats = export_rows(project, "pairs", aggregate="majority")

    assert rows == [] and stats["skipped"] == {"no_majority": 1}


def test_gold_tasks_excluded_judgments_and_excluded_annotators_leave_the_export(
    project, judges, admin_user
):
    kept = make_task(project)
    gold = make_task(project, is_gold=True, gold_payload={"choice": "A", "strength": "much"})
    judge(kept, judges[0], {"choice": "A", "strength": "much"})
    judge(gold, judges[0], {"choice": "A", "strength": "much"})
    judge(
        kept,
        judges[1],
        {"choice": "B", "strength": "much"},
        excluded_at=timezone.now(),
        excluded_by=admin_user,
    )
    judge(kept, judges[2], {"choice": "B", "strength": "slightly"})
    Membership.objects.filter(project=project, user=judges[2]).update(excluded_at=timezone.now())

    for kind in ("pairs", "raw"):
        rows, _ = export_rows(project, kind)
        assert [(r["task_id"], r.get("annotator_id")) for r in rows] == [(kept.pk, judges[0].pk)]
    [aggregated], _ = export_rows(project, "pairs", aggregate="majority")
    assert aggregated["n_judgments"] == 1


def test_split_is_by_prompt_deterministic_and_seeded(project, judges):
    for _ in range(40):
        prompt = PromptFactory(project=project)
        for _ in range(2):  # two tasks of the same prompt
            task = make_task(project)
            task.prompt = prompt
            task.save()
            judge(task, judges[0], {"choice": "A", "strength": "clearly"})

    rows, stats = export_rows(project, "pairs", split=0.3, split_seed=7)
    again, _ = export_rows(project, "pairs", split=0.3, split_seed=7)
    other_seed, _ = export_rows(project, "pairs", split=0.3, split_seed=8)
    test_only, _ = export_rows(project, "pairs", split=0.3, split_seed=7, subset="test")

    sides = {}
    for row in rows:
        sides.setdefault(row["prompt_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values()), "a prompt landed on both sides"
    assert 0 < stats["test"] < stats["rows"] == 80
    assert rows == again
    assert [r["split"] for r in rows] != [r["split"] for r in other_seed]
    assert {r["prompt_id"] for r in test_only} == {
        r["prompt_id"] for r in rows if r["split"] == "test"
    }
    assert split_side("p1", share=0.3, seed=7) == split_side("p1", share=0.3, seed=7)


def test_pairs_load_with_datasets_in_both_formats(project, judges, tmp_path):
    for _ in range(3):
        judge(make_task(project), judges[0], {"choice": "B", "strength": "clearly"})

    jsonl = load_hf(write_export(project, "pairs", tmp_path / "pairs.jsonl"))
    parquet = load_hf(write_export(project, "pairs", tmp_path / "pairs.parquet", format="parquet"))
    conversational = load_hf(
        write_export(
            project, "pairs", tmp_path / "conv.parquet", format="parquet", form="conversational"
        )
    )

    assert jsonl.column_names[:4] == ["prompt", "chosen", "rejected", "margin"]
    assert jsonl.to_list() == parquet.to_list()
    assert conversational[0]["chosen"][0]["role"] == "assistant"


def test_an_export_the_project_kind_cannot_give_is_refused(project):
    with pytest.raises(ApplicationError, match="no listwise export"):
        export_rows(project, "listwise")
    with pytest.raises(ApplicationError, match="aggregates by"):
        export_rows(project, "raw", aggregate="majority")


# ---------------------------------------------------------------- unpaired, principles


def test_thumbs_give_unpaired_rows_and_majorities(project, judges):
    project.kind = FeedbackKind.THUMBS
    project.save()
    task = make_task(project, n_responses=1)
    judge(task, judges[0], {"labels": [True]})
    judge(task, judges[1], {"labels": [False]})
    judge(task, judges[2], {"labels": [True]})

    rows, _ = export_rows(project, "unpaired")
    [majority], _ = export_rows(project, "unpaired", aggregate="majority")

    assert [r["label"] for r in rows] == [True, False, True]
    assert rows[0]["completion"] == texts(task)[0]
    assert (majority["label"], majority["votes_true"], majority["votes_false"]) == (True, 2, 1)


def test_principle_verdicts_carry_the_text_of_the_version_answered(project, judges, tmp_path):
    project.kind = FeedbackKind.PRINCIPLES
    project.save()
    old = Principle.objects.create(project=project, key="honest", version=1, text="Is it honest?")
    brief = Principle.objects.create(project=project, key="brief", text="Is it brief?")
    task = make_task(project, n_responses=1)
    judge(
        task,
        judges[0],
        {
            "verdicts": [
                {"response": 0, "principle": old.pk, "verdict": "yes", "evidence": ""},
                {"response": 0, "principle": brief.pk, "verdict": "na", "evidence": ""},
            ]
        },
    )
    old.is_current = False
    old.save()
    Principle.objects.create(project=project, key="honest", version=2, text="Is it truthful?")

    [row], stats = export_rows(project, "principles")
    [unpaired], _ = export_rows(project, "unpaired")

    assert (row["principle"], row["verdict"], row["principle_version"]) == (
        "Is it honest?",
        True,
        1,
    )
    assert row["response"] == texts(task)[0]
    assert stats["skipped"] == {"na": 1}
    assert (unpaired["completion"], unpaired["label"], unpaired["principle_key"]) == (
        texts(task)[0],
        True,
        "honest",
    )
    loaded = load_hf(write_export(project, "principles", tmp_path / "p.jsonl"))
    assert loaded.column_names[:3] == ["prompt", "response", "verdict"]


# ---------------------------------------------------------------- listwise


def test_listwise_keeps_ties_and_skips_unrankable(project, judges):
    project.kind = FeedbackKind.LISTWISE
    project.save()
    task = make_task(project, n_responses=3)
    judge(task, judges[0], {"not_rankable": False, "reason": "", "ranks": [1, 1, 2]})
    judge(task, judges[1], {"not_rankable": False, "reason": "", "ranks": [2, 1, 3]})
    judge(task, judges[2], {"not_rankable": True, "reason": "broken", "ranks": None})

    rows, stats = export_rows(project, "listwise")
    [mean], _ = export_rows(project, "listwise", aggregate="mean_rank")

    assert [r["ranks"] for r in rows] == [[1, 1, 2], [2, 1, 3]]
    assert rows[0]["responses"] == texts(task)
    assert stats["skipped"] == {"not_rankable": 1}
    assert (mean["ranks"], mean["n_judgments"]) == ([2, 1, 3], 2)


# ---------------------------------------------------------------- hindsight


def test_hindsight_rows_hold_both_judgments_and_the_consequence(project, judges):
    project.kind = FeedbackKind.HINDSIGHT
    project.save()
    task = make_task(project, consequence="The user lost money.")
    before = judge(task, judges[0], {"choice": "A", "strength": "clearly"}, phase="foresight")
    judge(task, judges[0], {"choice": "B", "strength": "much"}, phase="hindsight", previous=before)
    judge(make_task(project), judges[0], {"choice": "A", "strength": "much"}, phase="foresight")

    [row], stats = export_rows(project, "hindsight")
    [pair], _ = export_rows(project, "hindsight_pairs")

    assert row["consequence"] == "The user lost money."
    assert row["foresight"] == {"choice": "A", "strength": "clearly"}
    assert row["hindsight"] == {"choice": "B", "strength": "much"}
    assert row["changed"] is True
    assert stats["skipped"] == {"foresight_only": 1}
    assert (pair["chosen"], pair["margin"]) == (texts(task)[1], 4.0)


# ---------------------------------------------------------------- chat reactions


def test_reactions_come_with_their_conversation_and_map_to_labels(project, judges):
    project.kind = FeedbackKind.CHAT
    project.save()
    chat = Conversation.objects.create(project=project, user=judges[0])
    said = [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Tell me a joke"),
        ("assistant", "No."),
    ]
    messages = [
        Message.objects.create(conversation=chat, index=i, role=role, content=content)
        for i, (role, content) in enumerate(said)
    ]
    Reaction.objects.create(message=messages[1], user=judges[0], kind="love")
    Reaction.objects.create(message=messages[3], user=judges[0], kind="angry")
    Reaction.objects.create(message=messages[3], user=judges[1], kind="laugh")

    rows, _ = export_rows(project, "reactions")
    labels, stats = export_rows(project, "unpaired")

    assert [(r["completion"], r["reaction"]) for r in rows] == [
        ("Hello!", "love"),
        ("No.", "angry"),
        ("No.", "laugh"),
    ]
    assert rows[1]["conversation"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert [(r["completion"], r["label"]) for r in labels] == [("Hello!", True), ("No.", False)]
    assert stats["skipped"] == {"reaction_laugh": 1}


# ---------------------------------------------------------------- raw


def test_raw_rows_keep_who_when_how_long_and_the_screen_order(project, judges, tmp_path):
    task = make_task(project)
    judge(task, judges[0], {"choice": "A", "strength": "much"}, critique="B rambles.")

    [row], _ = export_rows(project, "raw")

    ids = list(task.items.order_by("position").values_list("response_id", flat=True))
    assert row["annotator_id"] == judges[0].pk and row["annotator"] == judges[0].username
    assert row["response_ids"] == ids and row["display_order"] == ids[::-1]
    assert row["shown_positions"] == [1, 0]
    assert row["payload"] == {"choice": "A", "strength": "much"}
    assert (row["critique"], row["phase"], row["source"], row["duration_ms"]) == (
        "B rambles.",
        "main",
        "app",
        1200,
    )
    loaded = load_hf(write_export(project, "raw", tmp_path / "raw.parquet", format="parquet"))
    assert loaded[0]["payload"] == '{"choice":"A","strength":"much"}'
