"""Rewrite mode and demonstrations in the browser, keyboard first: E edits the chosen response in
place with a live word-level diff, Escape cancels, Ctrl+Enter submits; W writes a demonstration."""

import pytest

from apps.feedback.models import Judgment
from apps.projects.models import FeedbackKind
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, UserFactory, add_member, make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORIGINAL = "The capital of France is Lyon, a city on the Rhône."
OTHER = "<img src=x onerror='window.pwned=true'> I do not know."


def _open_labeling(page, live_server, project, username):
    add_member(project, UserFactory(username=username))
    log_in(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")


def test_editing_the_chosen_response_shows_a_word_diff_and_stores_the_edit(
    page, live_server, project
):
    project.allow_rewrite = True
    project.save()
    make_task(project, texts=[ORIGINAL, OTHER])
    problems = watch_for_violations(page)
    _open_labeling(page, live_server, project, "editor")
    # Pick whichever side holds the original, so the edit below is of the chosen response.
    left_is_original = (
        page.locator(".response.card[data-side='0'] .md").inner_text().startswith("The")
    )
    page.keyboard.press("ArrowLeft" if left_is_original else "ArrowRight")
    page.keyboard.press("2")

    page.keyboard.press("e")
    editor = page.locator("textarea[data-rewrite-editor]")
    editor.wait_for(state="visible")
    # The editor opened inside the chosen card, holding its text, with focus.
    chosen_side = "0" if left_is_original else "1"
    assert page.locator(f".response.card[data-side='{chosen_side}'] textarea").count() == 1
    assert editor.input_value() == ORIGINAL
    page.wait_for_function("() => document.activeElement.matches('[data-rewrite-editor]')")

    page.keyboard.press("Control+a")
    page.keyboard.type("The capital of France is Paris, a city on the Seine.")
    page.wait_for_function("() => document.querySelector('[data-rewrite-diff-body] ins') !== null")
    inserted = page.locator("[data-rewrite-diff-body] ins").all_inner_texts()
    deleted = page.locator("[data-rewrite-diff-body] del").all_inner_texts()
    assert [t.strip() for t in inserted] == ["Paris,", "Seine."]
    assert [t.strip() for t in deleted] == ["Lyon,", "Rhône."]
    assert "2 words added, 2 removed" in page.locator("[data-rewrite-stats]").inner_text()
    screenshot(page, "rewrite-diff")

    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelector('[data-judged]').textContent === '1'")

    judgment = Judgment.objects.get()
    assert judgment.written_response == "The capital of France is Paris, a city on the Seine."
    assert judgment.edited_response.text == ORIGINAL
    assert judgment.edit_distance == pytest.approx(2 / 11)
    assert judgment.payload["strength"] == "slightly"
    assert page.evaluate("() => window.pwned === undefined")
    assert not problems, problems


def test_escape_cancels_the_edit_and_enter_submits_a_plain_judgment(page, live_server, project):
    project.allow_rewrite = True
    project.save()
    make_task(project, texts=[ORIGINAL, OTHER])
    _open_labeling(page, live_server, project, "canceller")

    page.keyboard.press("e")  # nothing chosen yet: the page says what to do first
    page.wait_for_function("() => !document.querySelector('[data-rewrite-error]').hidden")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("4")
    page.keyboard.press("e")
    editor = page.locator("textarea[data-rewrite-editor]")
    editor.wait_for(state="visible")
    page.keyboard.type(" More words.")
    page.wait_for_function("() => document.querySelector('[data-rewrite-diff-body] ins')")

    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => !document.querySelector('.card.editing') && "
        "document.querySelector('[data-rewrite-diff]').hidden"
    )
    assert editor.input_value() == ""
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-judged]').textContent === '1'")

    judgment = Judgment.objects.get()
    assert judgment.payload == {"choice": _left_letter_of(judgment), "strength": "much"}
    assert (judgment.written_response, judgment.edited_response) == ("", None)


def _left_letter_of(judgment) -> str:
    """The canonical letter of the response the annotator saw on the left."""
    return "AB"[judgment.task.items.get(response_id=judgment.display_order[0]).position]


def test_a_project_without_rewrite_mode_shows_no_editor(page, live_server, project):
    make_task(project, texts=[ORIGINAL, OTHER])
    _open_labeling(page, live_server, project, "plain")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("e")
    assert page.locator("[data-rewrite]").count() == 0
    assert page.locator("textarea[name=written_response]").count() == 0


def test_writing_a_demonstration_with_the_keyboard(page, live_server, project):
    project.kind = FeedbackKind.DEMONSTRATION
    project.save()
    first = make_task(project, n_responses=0)
    first.prompt.messages = [{"role": "user", "content": "How do I **boil** an egg?"}]
    first.prompt.save()
    make_task(project, n_responses=0)
    problems = watch_for_violations(page)
    _open_labeling(page, live_server, project, "writer")
    assert page.locator(".prompt strong").inner_text() == "boil"  # the prompt as Markdown

    page.keyboard.press("w")
    page.wait_for_function("() => document.activeElement.matches('[data-demonstration-editor]')")
    page.keyboard.type("Put the egg in boiling water.")
    page.keyboard.press("Enter")  # a new line, not a submit: the answer goes on
    page.keyboard.type("Wait nine minutes, then cool it.")
    page.wait_for_function(
        "() => document.querySelector('[data-demonstration-count]').textContent === '12 words'"
    )
    screenshot(page, "demonstration")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelector('[data-judged]').textContent === '1'")

    judgment = Judgment.objects.get()
    assert judgment.task == first
    assert judgment.written_response == (
        "Put the egg in boiling water.\nWait nine minutes, then cool it."
    )
    assert judgment.kind == "demonstration" and judgment.edited_response is None

    # Escape leaves the editor; Enter then submits, and an empty answer is refused in the page.
    page.keyboard.press("w")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    assert page.evaluate(
        "() => document.querySelector('[data-demonstration-editor]').validity.valueMissing"
    )
    assert Judgment.objects.count() == 1
    assert not problems, problems
