"""A user makes an API token on their tokens page, sees it once, uses it, and revokes it."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_makes_a_token_sees_it_once_and_revokes_it(page, live_server):
    UserFactory(username="scripter")
    problems = watch_for_violations(page)
    log_in(page, live_server, "scripter", PASSWORD)

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("Label: read, take tasks, submit judgments, chat").check()
    page.get_by_role("button", name="Make token").click()

    secret = page.locator("#new-token").input_value()
    assert secret.startswith("arb_")
    screenshot(page, "tokens")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/projects/").status_code == 200
    assert ApiToken.objects.get().scope == "label"

    page.reload()  # a reload asks again for the page: the token is not shown again
    page.get_by_role("heading", name="Your tokens").wait_for()
    assert page.locator("#new-token").count() == 0 and secret not in page.content()

    page.get_by_role("button", name="Revoke nightly export").click()
    page.get_by_text("The token is revoked").wait_for()
    assert api.get("/api/projects/").status_code == 401
    assert problems == []
