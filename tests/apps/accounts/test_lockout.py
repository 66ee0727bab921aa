"""Login lockout (django-axes): a username tried with wrong passwords from one address is locked
out for a while; the login page works as before until then."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _log_in(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_username_is_locked_out_after_the_failure_limit(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory()
    for _ in range(2):
        wrong = _log_in(client, user.username, "wrong password")
        assert wrong.status_code == 200 and "didn't match" in wrong.content.decode()

    locked = _log_in(client, user.username, "wrong password")
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # Even the right password is refused now, and no session is made.
    refused = _log_in(client, user.username, PASSWORD)
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # Another user, and the same user from another address, are not locked out.
    assert _log_in(client, UserFactory().username, PASSWORD).status_code == 302
    elsewhere = client.post(
        reverse("login"),
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.7",
    )
    assert elsewhere.status_code == 302


def test_a_successful_login_resets_the_failure_count(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory()
    for _ in range(2):
        _log_in(client, user.username, "wrong password")
    assert _log_in(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert _log_in(client, user.username, "wrong password").status_code == 200
    assert _log_in(client, user.username, PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    user = UserFactory()
    for _ in range(2):
        _log_in(client, user.username, "wrong password")
    assert _log_in(client, user.username, PASSWORD).status_code == 429

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(hours=1)
    )

    assert _log_in(client, user.username, PASSWORD).status_code == 302
