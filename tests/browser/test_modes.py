"""Each feedback mode completed in a real browser by an annotator."""

import pytest

from apps.feedback.models import Judgment
from apps.projects.services import principle_save
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, UserFactory, add_member, make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def start(page, live_server, project, username):
    add_member(project, UserFactory(username=username))
    log_in(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")


def wait_judged(page, n):
    page.wait_for_function(
        "n => document.querySelector('[data-judged]').textContent === String(n)", arg=n
    )


def test_ranking_by_keyboard_only_stores_ranks_with_a_tie(page, live_server, project):
    project.kind = "listwise"
    project.save()
    make_task(project, texts=["first shown?", "second?", "third?", "fourth?"])
    start(page, live_server, project, "ranker")
    screenshot(page, "listwise")
    shown = [
        int(p)
        for p in page.eval_on_selector_all(".rank-item", "els => els.map(e => e.dataset.position)")
    ]
    # Focus starts on the top item. Move the second-shown item to the top, then tie the
    # (now) third item with the one above it.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("=")
    page.keyboard.press("Enter")
    wait_judged(page, 1)

    ranks = Judgment.objects.get().payload["ranks"]
    order = [shown[1], shown[0], shown[2], shown[3]]
    expected = {order[0]: 1, order[1]: 2, order[2]: 2, order[3]: 3}
    assert ranks == [expected[position] for position in range(4)]


def test_principles_by_keyboard_only_store_a_verdict_for_each(page, live_server, project):
    project.kind = "principles"
    project.save()
    first = principle_save(
        project=project, key="answers", text="The response answers the question that was asked."
    )
    second = principle_save(
        project=project, key="numbers", text="Every number in the response is correct."
    )
    third = principle_save(project=project, key="safe", text="The advice is safe to follow.")
    make_task(project, texts=["Water boils at 90 °C at sea level."])
    start(page, live_server, project, "principled")
    screenshot(page, "principles")
    for key in ("y", "n", "a"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    wait_judged(page, 1)

    verdicts = {v["principle"]: v["verdict"] for v in Judgment.objects.get().payload["verdicts"]}
    assert verdicts == {first.pk: "yes", second.pk: "no", third.pk: "na"}


def test_thumbs_up_by_keyboard(page, live_server, project):
    project.kind = "thumbs"
    project.save()
    make_task(project, texts=["A fine answer."])
    make_task(project, texts=["A poor answer."])
    start(page, live_server, project, "thumber")
    page.keyboard.press("u")
    page.keyboard.press("Enter")
    wait_judged(page, 1)
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_judged(page, 2)
    assert [j.payload["labels"] for j in Judgment.objects.order_by("id")] == [[True], [False]]


def test_hindsight_judges_again_after_the_consequence_and_keeps_the_first(
    page, live_server, project
):
    project.kind = "hindsight"
    project.save()
    make_task(
        project,
        texts=["Run `rm -rf ~/tmp/*`.", "Move the files to the trash first."],
        consequence="The user typed the command with a space: `rm -rf ~ /tmp/*` and lost their home folder.",
    )
    start(page, live_server, project, "hindsighted")
    assert "lost their home folder" not in page.content()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=What happened next")
    screenshot(page, "hindsight")
    assert "lost their home folder" in page.inner_text(".consequence")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    wait_judged(page, 1)

    foresight, hindsight = Judgment.objects.order_by("id")
    assert (foresight.phase, hindsight.phase) == ("foresight", "hindsight")
    assert hindsight.previous_id == foresight.pk
    assert foresight.payload["strength"] == "slightly" and hindsight.payload["strength"] == "much"
    assert foresight.payload["choice"] != hindsight.payload["choice"]
