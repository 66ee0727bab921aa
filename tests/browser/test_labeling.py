import pytest

from apps.feedback.models import Judgment
from apps.labeling.models import Task
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, UserFactory, add_member, make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_annotator_judges_three_pairs_with_the_keyboard_only(page, live_server, project):
    tasks = [
        make_task(
            project,
            texts=[f"**Bold** answer {i}\n\n```python\nprint({i})\n```", f"Plain answer {i}"],
        )
        for i in range(4)
    ]
    make_task(
        project,
        texts=["<script>window.pwned = true</script>", "<img src=x onerror='window.pwned=true'>"],
    )
    annotator = add_member(project, UserFactory(username="ann"))
    log_in(page, live_server, "ann", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")
    screenshot(page, "labeling")

    keys = [("ArrowLeft", "3"), ("ArrowRight", "1"), ("t", None)]
    for step, (choice_key, strength_key) in enumerate(keys, start=1):
        page.keyboard.press(choice_key)
        if strength_key:
            page.keyboard.press(strength_key)
        page.keyboard.press("Enter")
        # The next task is swapped in by htmx; the page itself is never reloaded.
        page.wait_for_function(
            "n => document.querySelector('[data-judged]').textContent === String(n)", arg=step
        )

    assert page.evaluate("window.pwned === undefined")
    judgments = list(Judgment.objects.filter(annotator=annotator).order_by("id"))
    assert len(judgments) == 3
    assert [j.payload["choice"] for j in judgments][2] == "tie"
    for judgment, (choice_key, _) in zip(judgments[:2], keys, strict=False):
        # The key names a screen side; the stored choice is that side's canonical letter.
        side = 0 if choice_key == "ArrowLeft" else 1
        shown_first = judgment.display_order[side]
        position = judgment.task.items.get(response_id=shown_first).position
        assert judgment.payload["choice"] == "AB"[position]
    assert [j.payload["strength"] for j in judgments] == ["clearly", "negligibly", None]
    assert all(j.duration_ms is not None and j.duration_ms >= 0 for j in judgments)
    assert sum(t.judgment_count for t in Task.objects.filter(pk__in=[t.pk for t in tasks])) <= 3


def test_guidelines_open_with_g_and_skip_with_s(page, live_server, project):
    make_task(project)
    make_task(project)
    add_member(project, UserFactory(username="ann2"))
    log_in(page, live_server, "ann2", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")
    page.keyboard.press("g")
    assert page.locator("dialog#guidelines").is_visible()
    assert "helpful" in page.locator("dialog#guidelines").inner_text()
    page.keyboard.press("g")
    first = page.get_attribute("form.judge", "data-assignment")
    page.keyboard.press("s")
    page.wait_for_function(
        "id => document.querySelector('form.judge') && document.querySelector('form.judge').dataset.assignment !== id",
        arg=first,
    )
    assert not Judgment.objects.exists()
