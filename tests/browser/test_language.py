"""The language switch: a signed-in user picks German in the page header, and the navigation and
the labeling page are German from then on, across reloads."""

import pytest

from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, UserFactory, add_member, make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switching_to_german_in_the_header_translates_navigation_and_labeling(
    page, live_server, project
):
    make_task(project)
    make_task(project)
    user = add_member(project, UserFactory(username="sprache"))
    log_in(page, live_server, "sprache", PASSWORD)
    nav = page.locator("header.topbar nav")
    assert nav.get_by_role("link", name="Projects").is_visible()

    page.select_option("#language-switch", "de")
    page.get_by_role("button", name="Switch language").click()

    nav.get_by_role("link", name="Projekte").wait_for()
    assert nav.get_by_role("button", name="Abmelden").is_visible()
    assert page.locator("html").get_attribute("lang") == "de"
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.get_by_text("Welche Antwort ist besser?").wait_for()
    assert page.get_by_role("button", name="Überspringen S").is_visible()
    screenshot(page, "labeling-de")

    page.reload()

    page.get_by_text("Welche Antwort ist besser?").wait_for()
    assert nav.get_by_role("link", name="Projekte").is_visible()
    assert page.locator("#language-switch").input_value() == "de"
    user.refresh_from_db()
    assert user.language == "de"
