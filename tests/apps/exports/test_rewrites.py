"""What annotators wrote leaves as TRL data: SFT rows (prompt/completion and messages) from
demonstrations and rewrites, and pairs in which the edit beats the original. The files load with
`datasets`, snapshots are byte-identical, and TRL's SFTTrainer and DPOTrainer each take a step on
them with a tiny GPT-2 built here (no downloads)."""

import hashlib

import pytest

from apps.exports.options import InvalidExport
from apps.exports.selectors import snapshot_open, snapshot_path
from apps.exports.services import snapshot_create
from apps.feedback.rewrites import word_edit_distance
from apps.projects.models import FeedbackKind
from tests.apps.exports.helpers import export_rows, judge, load_hf, write_export
from tests.apps.exports.test_trl import all_texts, cpu_args, tiny_model
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db


def _rewrite(task, annotator, *, position: int, text: str, payload: dict):
    item = task.items.select_related("response").get(position=position)
    return judge(
        task,
        annotator,
        payload,
        written_response=text,
        edited_response=item.response,
        edit_distance=word_edit_distance(item.response.text, text),
    )


@pytest.fixture
def rewritten(project):
    """A pairwise project with rewrite mode: three rewrites of the chosen response and one
    judgment without a rewrite."""
    project.allow_rewrite = True
    project.save()
    annotator = add_member(project, UserFactory())
    for i in range(3):
        task = make_task(project, texts=[f"the answer is {i} maybe", f"no idea about {i}"])
        _rewrite(
            task,
            annotator,
            position=0,
            text=f"the answer is exactly {i} because it is so",
            payload={"choice": "A", "strength": "slightly"},
        )
    judge(make_task(project), annotator, {"choice": "B", "strength": "clearly"})
    return project


@pytest.fixture
def demonstrated(project):
    """A demonstration project: four prompts, each answered from scratch."""
    project.kind = FeedbackKind.DEMONSTRATION
    project.save()
    annotator = add_member(project, UserFactory())
    for i in range(4):
        task = make_task(project, n_responses=0)
        task.prompt.messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": f"what is {i} plus one"},
        ]
        task.prompt.save()
        judge(task, annotator, {}, written_response=f"it is {i + 1}")
    return project


def test_sft_rows_hold_each_rewrite_as_the_completion(rewritten):
    rows, stats = export_rows(rewritten, "sft")

    assert stats["rows"] == 3
    assert [row["completion"] for row in rows] == [
        f"the answer is exactly {i} because it is so" for i in range(3)
    ]
    assert {row["origin"] for row in rows} == {"rewrite"}
    assert all(row["edited_response_id"] for row in rows)


def test_sft_rows_of_a_demonstration_project_in_both_trl_forms(demonstrated):
    standard, _ = export_rows(demonstrated, "sft")
    conversational, _ = export_rows(demonstrated, "sft", form="conversational")
    messages, _ = export_rows(demonstrated, "sft_messages")

    assert standard[0]["prompt"] == "system: be brief\nuser: what is 0 plus one"
    assert standard[0]["completion"] == "it is 1"
    assert standard[0]["origin"] == "demonstration" and standard[0]["edited_response_id"] is None
    assert conversational[0]["prompt"][-1] == {"role": "user", "content": "what is 0 plus one"}
    assert conversational[0]["completion"] == [{"role": "assistant", "content": "it is 1"}]
    assert messages[0]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is 0 plus one"},
        {"role": "assistant", "content": "it is 1"},
    ]
    assert len(messages) == 4


def test_edit_pairs_prefer_the_edit_with_the_edit_distance_as_margin(rewritten):
    rows, stats = export_rows(rewritten, "edit_pairs")

    assert stats["rows"] == 3
    first = rows[0]
    assert (first["chosen"], first["rejected"]) == (
        "the answer is exactly 0 because it is so",
        "the answer is 0 maybe",
    )
    # 9 words in the edit: "exactly" inserted, "maybe" -> "because", "it", "is", "so" inserted
    assert first["margin"] == pytest.approx(5 / 9)
    assert first["margin"] == pytest.approx(word_edit_distance(first["rejected"], first["chosen"]))


def test_a_demonstration_project_offers_sft_but_no_edit_pairs(demonstrated):
    with pytest.raises(InvalidExport, match="no edit_pairs export"):
        export_rows(demonstrated, "edit_pairs")


def test_a_rewrite_whose_original_left_the_task_is_skipped_and_counted(rewritten):
    from apps.labeling.models import TaskItem

    TaskItem.objects.filter(task=rewritten.tasks.order_by("pk").first(), position=0).delete()

    rows, stats = export_rows(rewritten, "edit_pairs")

    assert len(rows) == 2
    assert stats["skipped"] == {"edited_response_not_in_task": 1}


@pytest.mark.parametrize("kind", ["sft", "sft_messages", "edit_pairs"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_the_same_written_snapshot_taken_twice_is_byte_identical(rewritten, admin_user, kind, fmt):
    options = {"format": fmt, "split": 0.5, "split_seed": 1}

    first = snapshot_create(project=rewritten, kind=kind, options=options, user=admin_user)
    second = snapshot_create(project=rewritten, kind=kind, options=options, user=admin_user)

    with snapshot_open(snapshot=first) as a, snapshot_open(snapshot=second) as b:
        first_bytes = a.read()
        assert first_bytes == b.read()
    assert first.sha256 == second.sha256 == hashlib.sha256(first_bytes).hexdigest()
    assert len(load_hf(snapshot_path(snapshot=first))) == 3


def _tiny(tmp_path, dataset, columns):
    return tiny_model(
        tmp_path / "model", [*all_texts(dataset, columns), "user: assistant: system:"]
    )


@pytest.mark.parametrize(
    ("kind", "form", "fmt", "columns"),
    [
        ("sft", "standard", "jsonl", ["prompt", "completion"]),
        ("sft", "conversational", "parquet", ["prompt", "completion"]),
        ("sft_messages", "standard", "jsonl", ["messages"]),
    ],
)
def test_sft_trains_a_step_on_the_demonstration_export(
    demonstrated, tmp_path, kind, form, fmt, columns
):
    from trl import SFTConfig, SFTTrainer

    path = write_export(demonstrated, kind, tmp_path / f"{kind}.{fmt}", form=form, format=fmt)
    dataset = load_hf(path)
    model, tokenizer = _tiny(tmp_path, dataset, columns)

    trainer = SFTTrainer(
        model=model,
        args=cpu_args(SFTConfig, tmp_path / "out"),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    result = trainer.train()

    assert result.global_step == 1
    assert result.training_loss > 0


def test_sft_trains_a_step_on_the_rewrite_export(rewritten, tmp_path):
    from trl import SFTConfig, SFTTrainer

    dataset = load_hf(write_export(rewritten, "sft", tmp_path / "sft.jsonl"))
    model, tokenizer = _tiny(tmp_path, dataset, ["prompt", "completion"])

    result = SFTTrainer(
        model=model,
        args=cpu_args(SFTConfig, tmp_path / "out"),
        train_dataset=dataset,
        processing_class=tokenizer,
    ).train()

    assert result.global_step == 1


def test_dpo_trains_a_step_on_the_edit_pairs_export(rewritten, tmp_path):
    from trl import DPOConfig, DPOTrainer

    dataset = load_hf(
        write_export(rewritten, "edit_pairs", tmp_path / "edit_pairs.parquet", format="parquet")
    )
    assert dataset["margin"] == pytest.approx([5 / 9, 5 / 9, 5 / 9])
    model, tokenizer = _tiny(tmp_path, dataset, ["prompt", "chosen", "rejected"])

    result = DPOTrainer(
        model=model,
        args=cpu_args(DPOConfig, tmp_path / "out"),
        train_dataset=dataset,
        processing_class=tokenizer,
    ).train()

    assert result.global_step == 1
    assert result.training_loss == pytest.approx(0.6931, abs=0.01)  # log 2 at the first step
