"""API throttles: per client address, per user, and stricter on token management. Rates are
settings (read per request); the suite runs with none, these tests set their own."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory, api_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    cache.clear()  # throttles count in the default cache

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "auth": None, **rates},
        }

    yield set_rates
    cache.clear()


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_a_user_past_their_rate_is_answered_429_with_retry_after(rates):
    rates(user="3/min")
    user = UserFactory()
    api = _api(user)
    assert [api.get("/api/projects/").status_code for _ in range(3)] == [200, 200, 200]

    refused = api.get("/api/projects/")

    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    # The limit is the user's, whichever token or session they use; others are not slowed.
    assert _api(user).get("/api/projects/").status_code == 429
    assert _api(UserFactory()).get("/api/projects/").status_code == 200


def test_anonymous_requests_to_the_open_endpoints_are_limited_per_address(rates):
    # Anonymous requests to the rest of the API are refused (401) before any throttle counts.
    rates(anon="2/min")
    anonymous = APIClient()
    assert [anonymous.get("/api/docs/").status_code for _ in range(2)] == [200, 200]
    assert anonymous.get("/api/docs/").status_code == 429
    assert APIClient(REMOTE_ADDR="10.0.0.9").get("/api/docs/").status_code == 200
    assert _api(UserFactory()).get("/api/docs/").status_code == 200


def test_token_management_has_its_own_stricter_rate(rates):
    rates(user="100/min", auth="2/min")
    api = _api(UserFactory())
    assert [api.get("/api/tokens/").status_code for _ in range(2)] == [200, 200]
    assert api.get("/api/tokens/").status_code == 429
    assert api.get("/api/projects/").status_code == 200


def test_rates_come_from_the_environment_and_off_means_none(monkeypatch):
    import importlib

    import config.settings as config_settings

    monkeypatch.setenv("ARBITER_API_RATE_USER", "5/sec")
    monkeypatch.setenv("ARBITER_API_RATE_ANON", "off")
    try:
        rates = importlib.reload(config_settings).REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    finally:
        monkeypatch.undo()
        importlib.reload(config_settings)
    assert rates == {"anon": None, "user": "5/sec", "auth": "30/min"}
