"""A local model (a tiny GPT-2 built here from a config, offered to the project) fights an
endpoint in the arena: the admin names it by reference, and its worker call runs it locally."""

import pytest

from apps.arena.services import battle_start, contestant_add, turn_send, turn_vote
from apps.core.errors import ApplicationError
from apps.dashboard.leaderboard import model_leaderboard
from apps.generation import backends
from tests.apps.arena.conftest import answered
from tests.apps.generation.test_transformers_backend import CHAT_TEMPLATE, _save_tiny_model
from tests.models_offered import offer

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_local(settings, tmp_path):
    folder = tmp_path / "models" / "tiny-arena"
    _save_tiny_model(folder, chat_template=CHAT_TEMPLATE)
    yield offer(settings, folder)
    backends.clear_model_cache()


def test_a_local_model_answers_beside_an_endpoint_and_its_votes_count(
    arena_project, arena_admin, voter, tiny_local
):
    with pytest.raises(ApplicationError):  # a path that is not offered is refused
        contestant_add(
            project=arena_project,
            actor=arena_admin,
            config={"type": "transformers", "model": "/tmp/elsewhere"},
        )
    arena_project.arena_contestants.exclude(name="model-x").delete()
    local = contestant_add(
        project=arena_project,
        actor=arena_admin,
        config={"type": "transformers", "model": tiny_local, "max_new_tokens": 8},
    )
    assert local.name == tiny_local

    battle = battle_start(user=voter, project_id=arena_project.pk)
    turn = answered(turn_send(user=voter, battle_id=battle.pk, content="hello there"))
    assert [(r.status, r.error) for r in turn.replies.all()] == [("done", ""), ("done", "")]
    local_side = "A" if battle.contestant_a == local else "B"
    turn_vote(user=voter, battle_id=battle.pk, choice=local_side, strength="slightly")

    board = model_leaderboard(project=arena_project, rounds=10)
    assert [(s.model, s.votes, s.wins) for s in board] == [
        (tiny_local, 1, 1.0),
        ("model-x", 1, 0.0),
    ]
