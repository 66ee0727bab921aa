"""A three-turn arena conversation, keyboard only: a tiny local GPT-2 (built here from a config,
offered to the project) against a scripted endpoint, both answers written by a real worker and
polled in, a vote after every turn, and the models named only after the reveal."""

from pathlib import Path

import pytest

from apps.arena.models import Battle
from apps.arena.services import contestant_add
from apps.feedback.models import Judgment
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.arena.conftest import endpoint_config
from tests.apps.generation.openai_server import openai_server
from tests.apps.generation.test_transformers_backend import _save_tiny_model
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, ProjectFactory, UserFactory, add_member
from tests.models_offered import offer, roots_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ("base:models/tiny-arena", "arena-model-y")


def voice_answer(body: dict) -> str:
    """The endpoint's answers, which do not name the model."""
    last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return f"Beta on {last}"


@pytest.fixture
def llm():
    with openai_server() as server:
        server.responder = voice_answer
        yield server


@pytest.fixture
def arena_project(llm, settings, tmp_path):
    admin = UserFactory(is_staff=True)
    project = ProjectFactory(name="Arena", kind=FeedbackKind.PAIRWISE, created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    local = offer(settings, Path(_save_tiny_model(tmp_path / "models" / "tiny-arena")))
    contestant_add(
        project=project,
        actor=admin,
        config={"type": "transformers", "model": local, "max_new_tokens": 8, "device": "cpu"},
    )
    contestant_add(project=project, actor=admin, config=endpoint_config(llm, NAMES[1]))
    return project


@pytest.fixture(autouse=True)
def arena_worker(start_worker, llm, arena_project, settings):
    """Replies are written by a worker, started once the model server runs (its allow-list) and
    the local model is offered (its model root)."""
    return start_worker("default", name="browser-arena", **roots_env(settings))


def _both_answered(page, turn: int) -> None:
    # The worker loads the local model on its first reply: allow for a busy machine.
    page.wait_for_selector(
        f'section[data-turn="{turn}"] article[data-side="B"][data-status="done"]',
        timeout=120_000,
    )
    page.wait_for_selector(
        f'section[data-turn="{turn}"] article[data-side="A"][data-status="done"]',
        timeout=120_000,
    )
    page.wait_for_selector("form.arena-vote-form")


def _names_hidden(page) -> bool:
    html = page.content()
    return all(name not in html for name in NAMES)


def test_a_three_turn_arena_conversation_with_votes_and_the_reveal(
    page, live_server, arena_project
):
    add_member(arena_project, UserFactory(username="voter"))
    problems = watch_for_violations(page)
    log_in(page, live_server, "voter", PASSWORD)
    page.goto(f"{live_server.url}/projects/{arena_project.pk}/arena/")
    page.get_by_role("button", name="New battle").click()
    page.wait_for_selector("#arena-input:focus")

    votes = [("b", "3", None), ("t", None, "A"), ("a", "4", None)]
    for turn, (choice, strength, keep) in enumerate(votes):
        page.keyboard.type(f"Question {turn}")
        page.keyboard.press("Enter")
        _both_answered(page, turn)
        assert _names_hidden(page)  # neither the page nor its HTML names the models yet
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press(choice)
        if strength:
            page.keyboard.press(strength)
        if keep:
            page.keyboard.press(f"Shift+{keep}")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'section[data-turn="{turn}"] [data-vote]')
        page.wait_for_selector("#arena-input:focus")

    battle = Battle.objects.get()
    a, b = battle.contestant_a.name, battle.contestant_b.name
    kept = {t.index: t.replies.get(side=t.continued_from).content for t in battle.turns.all()}
    judgments = list(Judgment.objects.order_by("pk"))
    assert [j.payload for j in judgments] == [
        {"choice": "B", "strength": "clearly"},
        {"choice": "tie", "strength": None},
        {"choice": "A", "strength": "much"},
    ]
    # The third vote's prompt: the conversation as continued from B, then A.
    assert [t.continued_from for t in battle.turns.order_by("index")] == [1, 0, 0]
    assert judgments[2].task.prompt.messages == [
        {"role": "user", "content": "Question 0"},
        {"role": "assistant", "content": kept[0]},
        {"role": "user", "content": "Question 1"},
        {"role": "assistant", "content": kept[1]},
        {"role": "user", "content": "Question 2"},
    ]
    assert _names_hidden(page)
    screenshot(page, "arena-before-reveal")

    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    page.wait_for_selector("[data-revealed]")
    assert page.locator("[data-revealed]").inner_text().startswith(f"A was {a}; B was {b}.")
    assert page.locator("#arena-input").count() == 0  # the battle is over
    screenshot(page, "arena-revealed")
    assert problems == []
