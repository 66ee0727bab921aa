"""A three-turn arena conversation, keyboard only: both anonymous answers written by a real
worker and polled in, a vote after every turn, and the models named only after the reveal."""

import pytest

from apps.arena.models import Battle
from apps.arena.services import contestant_add
from apps.feedback.models import Judgment
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.arena.conftest import endpoint_config
from tests.apps.generation.openai_server import openai_server
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ("arena-model-x", "arena-model-y")
VOICES = {"arena-model-x": "Alpha", "arena-model-y": "Beta"}  # answers that do not name the model


def voice_answer(body: dict) -> str:
    last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return f"{VOICES[body['model']]} on {last}"


@pytest.fixture
def llm():
    with openai_server() as server:
        server.responder = voice_answer
        yield server


@pytest.fixture(autouse=True)
def arena_worker(start_worker, llm):
    """Replies are written by a worker, started once the model server runs (its allow-list)."""
    return start_worker("default", name="browser-arena")


@pytest.fixture
def arena_project(llm):
    admin = UserFactory(is_staff=True)
    project = ProjectFactory(name="Arena", kind=FeedbackKind.PAIRWISE, created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    for name in NAMES:
        contestant_add(project=project, actor=admin, config=endpoint_config(llm, name))
    return project


def _both_answered(page, turn: int) -> None:
    page.wait_for_selector(
        f'section[data-turn="{turn}"] article[data-side="B"][data-status="done"]'
    )
    page.wait_for_selector(
        f'section[data-turn="{turn}"] article[data-side="A"][data-status="done"]'
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
    va, vb = VOICES[a], VOICES[b]
    judgments = list(Judgment.objects.order_by("pk"))
    assert [j.payload for j in judgments] == [
        {"choice": "B", "strength": "clearly"},
        {"choice": "tie", "strength": None},
        {"choice": "A", "strength": "much"},
    ]
    # The third vote's prompt: the conversation as continued from B, then A.
    assert judgments[2].task.prompt.messages == [
        {"role": "user", "content": "Question 0"},
        {"role": "assistant", "content": f"{vb} on Question 0"},
        {"role": "user", "content": "Question 1"},
        {"role": "assistant", "content": f"{va} on Question 1"},
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
