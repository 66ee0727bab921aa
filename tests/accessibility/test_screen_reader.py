"""The labeling pages as a screen reader meets them: the controls' roles and names (what
Playwright's get_by_role sees, from the browser's accessibility tree), the keyboard shortcuts
they declare, and a live region that announces each task htmx swaps in."""

import re

import pytest
from playwright.sync_api import expect

from apps.feedback.models import Judgment
from apps.projects.services import principle_save
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, add_member, make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_labeling(page, live_server, project, username):
    add_member(project, UserFactory(username=username))
    log_in(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")


def test_pairwise_choice_is_a_named_radiogroup_and_each_new_task_is_announced(
    page, live_server, project
):
    make_task(project, texts=["First answer.", "Second answer."])
    make_task(project, texts=["Third answer.", "Fourth answer."])
    open_labeling(page, live_server, project, "listener")
    announcer = page.get_by_role("status")
    expect(announcer).to_have_text("Task 1 of 2 loaded")

    choices = page.get_by_role("radiogroup", name="Which response is better?")
    expect(choices.get_by_role("radio")).to_have_count(4)
    left = choices.get_by_role("radio", name=re.compile("^Left is better"))
    expect(left).to_have_attribute("aria-keyshortcuts", "ArrowLeft A")
    expect(choices.get_by_role("radio", name=re.compile("^Tie"))).to_have_count(1)
    strengths = page.get_by_role("radiogroup", name="How much better?")
    expect(strengths.get_by_role("radio")).to_have_count(4)
    expect(page.get_by_role("button", name=re.compile("^Submit"))).to_have_attribute(
        "aria-keyshortcuts", "Enter"
    )
    expect(page.get_by_role("textbox", name=re.compile("^Critique"))).to_have_attribute(
        "aria-keyshortcuts", "C"
    )

    page.keyboard.press("ArrowLeft")
    expect(left).to_be_checked()
    page.keyboard.press("3")  # a side chosen needs a strength
    page.keyboard.press("Enter")

    # htmx swaps the next task in; the region outside the panel says so.
    expect(announcer).to_have_text("Task 2 of 2 loaded")
    assert Judgment.objects.count() == 1
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    expect(announcer).to_have_text("All done: nothing left to judge")


def test_ranking_is_a_named_list_and_each_move_is_announced(page, live_server, project):
    project.kind = "listwise"
    project.save()
    make_task(project, texts=["one?", "two?", "three?"])
    open_labeling(page, live_server, project, "ranker")
    ranking = page.get_by_role("list", name="Responses, best first")
    items = ranking.get_by_role("listitem")
    expect(items).to_have_count(3)
    expect(items.first).to_have_attribute("aria-keyshortcuts", re.compile("Shift\\+ArrowDown"))
    expect(page.get_by_role("spinbutton", name="Rank")).to_have_count(3)

    page.keyboard.press("Shift+ArrowDown")  # focus starts on the top item
    expect(page.get_by_role("status")).to_have_text("Position 2 of 3, rank 2")
    page.keyboard.press("=")
    expect(page.get_by_role("status")).to_have_text(
        "Position 2 of 3, rank 1, tied with the one above"
    )


def test_each_principle_row_is_named_and_its_verdicts_are_radios(page, live_server, project):
    project.kind = "principles"
    project.save()
    texts = ["The response answers the question.", "Every number is correct."]
    for key, text in zip(("answers", "numbers"), texts, strict=True):
        principle_save(project=project, key=key, text=text)
    make_task(project, texts=["Water boils at 90 °C."])
    open_labeling(page, live_server, project, "principled")
    for text in texts:
        row = page.get_by_role("row", name=text)
        expect(row).to_have_attribute("aria-keyshortcuts", re.compile("Y N A"))
        expect(row.get_by_role("radio", name="Yes")).to_have_attribute("aria-keyshortcuts", "Y")
        expect(row.get_by_role("radio", name="Not applicable")).to_have_count(1)
    page.keyboard.press("y")
    expect(page.get_by_role("row", name=texts[0]).get_by_role("radio", name="Yes")).to_be_checked()


def test_thumbs_choice_is_a_named_radiogroup(page, live_server, project):
    project.kind = "thumbs"
    project.save()
    make_task(project, texts=["A fine answer."])
    open_labeling(page, live_server, project, "thumber")
    group = page.get_by_role("radiogroup", name="Is this a good response?")
    expect(group.get_by_role("radio", name=re.compile("Good"))).to_have_attribute(
        "aria-keyshortcuts", "U"
    )
    expect(group.get_by_role("radio", name=re.compile("Bad"))).to_have_attribute(
        "aria-keyshortcuts", "N"
    )
