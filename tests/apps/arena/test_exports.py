"""Arena votes export as TRL conversational pairs: the prompt is the conversation so far and
chosen / rejected are one-message lists; the file loads with `datasets` and DPO trains a step."""

import pytest

from apps.arena.services import battle_start, turn_send, turn_vote
from tests.apps.arena.conftest import answered
from tests.apps.exports.helpers import load_hf, write_export
from tests.apps.exports.test_trl import all_texts, cpu_args, tiny_model

pytestmark = pytest.mark.django_db


def _conversation(project, voter) -> tuple:
    """Two turns: a tie continued from B, then a vote for A."""
    battle = battle_start(user=voter, project_id=project.pk)
    answered(turn_send(user=voter, battle_id=battle.pk, content="Name a colour."))
    turn_vote(user=voter, battle_id=battle.pk, choice="tie", continue_with="B")
    answered(turn_send(user=voter, battle_id=battle.pk, content="Another one?"))
    turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="clearly")
    return battle.contestant_a.name, battle.contestant_b.name


def test_arena_votes_export_as_conversational_pairs_of_the_conversation_so_far(
    arena_project, voter, tmp_path
):
    a, b = _conversation(arena_project, voter)

    path = write_export(arena_project, "pairs", tmp_path / "pairs.jsonl", form="conversational")
    rows = list(load_hf(path))

    assert len(rows) == 1  # the tie makes no pair
    row = rows[0]
    assert row["prompt"] == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": f"{b} on Name a colour."},
        {"role": "user", "content": "Another one?"},
    ]
    assert row["chosen"] == [{"role": "assistant", "content": f"{a} on Another one?"}]
    assert row["rejected"] == [{"role": "assistant", "content": f"{b} on Another one?"}]


def test_dpo_trains_a_step_on_the_arena_export(arena_project, voter, tmp_path):
    from trl import DPOConfig, DPOTrainer

    for _ in range(2):
        _conversation(arena_project, voter)
    path = write_export(arena_project, "pairs", tmp_path / "pairs.jsonl", form="conversational")
    dataset = load_hf(path)
    model, tokenizer = tiny_model(
        tmp_path / "model", all_texts(dataset, ["prompt", "chosen", "rejected"])
    )

    result = DPOTrainer(
        model=model,
        args=cpu_args(DPOConfig, tmp_path / "out"),
        train_dataset=dataset,
        processing_class=tokenizer,
    ).train()

    assert result.global_step == 1
    assert result.training_loss == pytest.approx(0.6931, abs=0.01)
