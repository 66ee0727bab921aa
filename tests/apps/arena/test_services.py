import pytest
from django.http import Http404

from apps.arena.models import Battle
from apps.arena.selectors import battle_names
from apps.arena.services import (
    battle_reveal,
    battle_start,
    contestant_add,
    reply_generate,
    reply_retry,
    turn_send,
    turn_vote,
)
from apps.core.errors import ApplicationError, Conflict, PermissionDenied, RateLimited
from apps.dashboard.leaderboard import model_leaderboard
from apps.feedback.models import Judgment
from tests.apps.arena.conftest import answered, endpoint_config
from tests.apps.generation.openai_server import Step
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def _replies(turn) -> dict[str, str]:
    return {"AB"[r.side]: r.content for r in turn.replies.all()}


def test_both_models_answer_each_turn_from_the_conversation_kept_by_the_vote(
    arena_project, voter, llm
):
    battle = battle_start(user=voter, project_id=arena_project.pk)
    a, b = battle.contestant_a.name, battle.contestant_b.name
    assert {a, b} == {"model-x", "model-y"}

    first = answered(turn_send(user=voter, battle_id=battle.pk, content="Hello?"))
    assert _replies(first) == {"A": f"{a} on Hello?", "B": f"{b} on Hello?"}
    turn_vote(user=voter, battle_id=battle.pk, choice="B", strength="clearly")

    second = answered(turn_send(user=voter, battle_id=battle.pk, content="And then?"))
    assert _replies(second)["A"] == f"{a} on And then?"
    # Both models were asked with B's first answer as the conversation so far.
    histories = [r["json"]["messages"] for r in llm.requests[2:]]
    assert (
        histories
        == [
            [
                {"role": "user", "content": "Hello?"},
                {"role": "assistant", "content": f"{b} on Hello?"},
                {"role": "user", "content": "And then?"},
            ]
        ]
        * 2
    )


def test_a_vote_is_a_pairwise_judgment_whose_prompt_is_the_conversation_so_far(
    arena_project, voter
):
    battle = battle_start(user=voter, project_id=arena_project.pk)
    answered(turn_send(user=voter, battle_id=battle.pk, content="One"))
    turn_vote(user=voter, battle_id=battle.pk, choice="tie", continue_with="A")
    answered(turn_send(user=voter, battle_id=battle.pk, content="Two"))
    turn = turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="much")

    judgment = Judgment.objects.get(pk=turn.judgment_id)
    a, b = battle.contestant_a.name, battle.contestant_b.name
    assert (judgment.kind, judgment.annotator, judgment.payload, judgment.signed_strength) == (
        "pairwise",
        voter,
        {"choice": "A", "strength": "much"},
        4.0,
    )
    assert judgment.task.prompt.messages == [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": f"{a} on One"},
        {"role": "user", "content": "Two"},
    ]
    assert [(i.response.source, i.response.text) for i in judgment.task.items.all()] == [
        (a, f"{a} on Two"),
        (b, f"{b} on Two"),
    ]
    assert judgment.chosen_response.source == a
    assert Judgment.objects.filter(project=arena_project).count() == 2


def test_votes_count_in_the_leaderboard_with_bootstrap_intervals(arena_project, voter):
    for _ in range(3):
        battle = battle_start(user=voter, project_id=arena_project.pk)
        answered(turn_send(user=voter, battle_id=battle.pk, content="Hi"))
        # The voter always prefers model-x, wherever it sits.
        choice = "A" if battle.contestant_a.name == "model-x" else "B"
        turn_vote(user=voter, battle_id=battle.pk, choice=choice, strength="slightly")

    board = model_leaderboard(project=arena_project, rounds=20)
    assert [(s.model, s.votes, s.wins) for s in board] == [("model-x", 3, 3.0), ("model-y", 3, 0.0)]
    assert board[0].low <= board[0].rating <= board[0].high
    assert board[0].rating > board[1].rating


def test_models_are_revealed_only_after_every_turn_is_voted_and_then_the_battle_ends(
    arena_project, voter
):
    battle = battle_start(user=voter, project_id=arena_project.pk)
    with pytest.raises(Conflict):
        battle_reveal(user=voter, battle_id=battle.pk)
    answered(turn_send(user=voter, battle_id=battle.pk, content="Hi"))
    with pytest.raises(Conflict):
        battle_reveal(user=voter, battle_id=battle.pk)
    assert battle_names(battle=Battle.objects.get(pk=battle.pk)) is None

    turn_vote(user=voter, battle_id=battle.pk, choice="both_bad", continue_with="B")
    revealed = battle_reveal(user=voter, battle_id=battle.pk)
    assert battle_names(battle=revealed) == {
        "A": battle.contestant_a.name,
        "B": battle.contestant_b.name,
    }
    with pytest.raises(Conflict):
        turn_send(user=voter, battle_id=battle.pk, content="More")


def test_a_vote_needs_both_answers_a_valid_strength_and_a_side_to_continue_from(
    arena_project, voter
):
    battle = battle_start(user=voter, project_id=arena_project.pk)
    turn_send(user=voter, battle_id=battle.pk, content="Hi")
    with pytest.raises(Conflict):
        turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="much")
    battle_turn = battle.turns.get()
    answered(battle_turn)
    with pytest.raises(Conflict):  # the last turn waits for its vote
        turn_send(user=voter, battle_id=battle.pk, content="More")
    with pytest.raises(ApplicationError):
        turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="enormously")
    with pytest.raises(ApplicationError):
        turn_vote(user=voter, battle_id=battle.pk, choice="tie")
    assert not Judgment.objects.exists()


def test_another_users_battle_is_not_found(arena_project, voter):
    battle = battle_start(user=voter, project_id=arena_project.pk)
    other = add_member(arena_project, UserFactory())
    with pytest.raises(Http404):
        turn_send(user=other, battle_id=battle.pk, content="Hi")
    with pytest.raises(Http404):
        battle_reveal(user=other, battle_id=battle.pk)
    with pytest.raises(Http404):
        battle_start(user=UserFactory(), project_id=arena_project.pk)


def test_only_admins_add_contestants_and_a_model_joins_once(arena_project, voter, llm):
    with pytest.raises(PermissionDenied):
        contestant_add(project=arena_project, actor=voter, config=endpoint_config(llm, "z"))
    admin = arena_project.created_by
    with pytest.raises(Conflict):
        contestant_add(project=arena_project, actor=admin, config=endpoint_config(llm, "model-x"))
    assert arena_project.arena_contestants.count() == 2


def test_a_failed_reply_is_asked_again_in_place_and_then_the_turn_can_be_voted(
    arena_project, voter, llm
):
    llm.then(Step(status=500, body='{"error": "down"}'), Step(status=500, body='{"error": "down"}'))
    battle = battle_start(user=voter, project_id=arena_project.pk)
    turn = answered(turn_send(user=voter, battle_id=battle.pk, content="Hi"))
    statuses = sorted(r.status for r in turn.replies.all())
    assert "failed" in statuses
    with pytest.raises(Conflict):
        turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="much")

    again = reply_retry(user=voter, battle_id=battle.pk)
    for reply in again.replies.filter(status="pending"):
        reply_generate(reply_id=reply.pk)
    assert sorted(r.status for r in again.replies.all()) == ["done", "done"]
    assert turn_vote(user=voter, battle_id=battle.pk, choice="A", strength="much").choice == "A"


def test_messages_past_the_users_per_minute_limit_are_refused(arena_project, voter, settings):
    settings.ARBITER_CHAT_MESSAGES_PER_MINUTE = 1
    battle = battle_start(user=voter, project_id=arena_project.pk)
    turn_send(user=voter, battle_id=battle.pk, content="One")
    other = battle_start(user=voter, project_id=arena_project.pk)
    with pytest.raises(RateLimited):
        turn_send(user=voter, battle_id=other.pk, content="Two")
    assert other.turns.count() == 0
