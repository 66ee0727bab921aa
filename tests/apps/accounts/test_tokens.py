"""Personal API tokens: made on the user's page (shown once, stored hashed), scoped, expiring,
revocable; their scope limits every API view."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create, api_token_revoke
from apps.accounts.tokens import LABEL_VIEWS, TokenScopePermission
from apps.core.errors import ApplicationError
from apps.feedback.models import Judgment
from tests.factories import StaffFactory, UserFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


def api_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_the_token_page_shows_a_new_token_once_and_stores_only_its_digest(client):
    user = UserFactory()
    client.force_login(user)
    url = reverse("accounts:tokens")

    made = client.post(url, {"name": "nightly export", "scope": "read", "days": "30"}, follow=True)

    row = ApiToken.objects.get(user=user)
    secret = made.context["new"]["secret"]
    assert made.redirect_chain == [(url, 302)] and secret in made.content.decode()
    assert "no-store" in made["Cache-Control"]
    assert "accounts:new-api-token" not in client.session
    assert secret.startswith("arb_") and len(secret) == 68
    assert secret not in {row.digest, row.token_key} and row.token_key == secret[:15]
    assert (row.name, row.scope) == ("nightly export", "read")
    assert timedelta(days=29, hours=23) < row.expiry - timezone.now() <= timedelta(days=30)
    later = client.get(url).content.decode()
    assert secret not in later and f"{row.token_key}…" in later and "nightly export" in later
    assert api_with(secret).get("/api/projects/").status_code == 200


def test_the_token_page_refuses_a_bad_form_and_makes_nothing(client):
    client.force_login(UserFactory())
    answer = client.post(
        reverse("accounts:tokens"), {"name": "x", "scope": "root", "days": "10000"}
    )
    assert answer.status_code == 200 and answer.context["new"] is None
    assert set(answer.context["form"].errors) == {"scope", "days"}
    assert not ApiToken.objects.exists()


def test_a_token_needs_a_name_a_known_scope_and_an_offered_lifetime():
    user = UserFactory()
    for fields, reason in [
        ({"name": " ", "scope": "read"}, "Name the token"),
        ({"name": "x", "scope": "owner"}, "Unknown scope"),
        ({"name": "x", "scope": "read", "days": 3650}, "days; not 3650"),
    ]:
        with pytest.raises(ApplicationError, match=reason):
            api_token_create(user=user, **fields)
    assert not ApiToken.objects.exists()


def test_a_revoked_token_is_refused_401_at_once(client):
    user = UserFactory()
    token, secret = api_token_create(user=user, name="script", scope="admin")
    api = api_with(secret)
    assert api.get("/api/projects/").status_code == 200

    client.force_login(user)
    client.post(reverse("accounts:token-revoke"), {"token_key": token.token_key})

    assert api.get("/api/projects/").status_code == 401
    assert not ApiToken.objects.exists()


def test_an_expired_token_is_refused_401():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="script", scope="admin", days=7)
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    answer = api_with(secret).get("/api/projects/")
    assert answer.status_code == 401 and answer["WWW-Authenticate"] == "Token"
    assert not ApiToken.objects.exists()


def test_a_token_request_reads_only_its_own_token_row():
    user = UserFactory()
    for _ in range(3):
        api_token_create(user=user, name="other", scope="read", days=7)
    api = api_with(api_token(user))
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/projects/").status_code == 200
    token_reads = [q for q in queries.captured_queries if "accounts_apitoken" in q["sql"]]
    assert len(token_reads) == 1


def test_an_unknown_token_is_refused_401():
    assert api_with("arb_" + "0" * 64).get("/api/projects/").status_code == 401


def test_another_users_token_cannot_be_revoked_and_keeps_working(client):
    owner, other = UserFactory(), UserFactory()
    token, secret = api_token_create(user=owner, name="mine", scope="read")
    client.force_login(other)
    assert (
        client.post(reverse("accounts:token-revoke"), {"token_key": token.token_key}).status_code
        == 404
    )
    assert api_with(api_token(other)).delete(f"/api/tokens/{token.token_key}/").status_code == 404
    assert api_with(secret).get("/api/projects/").status_code == 200


def test_the_token_api_lists_without_secrets_and_revokes():
    user = UserFactory()
    admin_token = api_token(user, scope="admin")
    doomed, _ = api_token_create(user=user, name="old script", scope="label")
    api = api_with(admin_token)

    listed = api.get("/api/tokens/").json()
    assert sorted(t["name"] for t in listed) == ["old script", "test token"]
    assert all(set(t) == {"token_key", "name", "scope", "created", "expiry"} for t in listed)
    assert api.delete(f"/api/tokens/{doomed.token_key}/").status_code == 204
    assert [t["name"] for t in api.get("/api/tokens/").json()] == ["test token"]


def test_a_read_token_reads_but_cannot_take_a_task_or_post_a_judgment(project, annotator):
    make_task(project)
    label = api_with(api_token(annotator, scope="label"))
    lease = label.post(f"/api/projects/{project.pk}/tasks/next/").data
    read = api_with(api_token(annotator, scope="read"))

    assert read.get(f"/api/projects/{project.pk}/").status_code == 200
    assert read.post(f"/api/projects/{project.pk}/tasks/next/").status_code == 403
    refused = read.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {"payload": {"choice": "A", "strength": "much"}},
        format="json",
    )
    assert refused.status_code == 403 and "read token may only read" in refused.data["detail"]
    assert not Judgment.objects.exists()


def test_a_label_token_labels_but_cannot_change_project_settings(project, admin_user):
    make_task(project)
    label = api_with(api_token(admin_user, scope="label"))
    lease = label.post(f"/api/projects/{project.pk}/tasks/next/").data
    submitted = label.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {"payload": {"choice": "A", "strength": "much"}},
        format="json",
    )
    assert submitted.status_code == 201 and Judgment.objects.count() == 1

    webhook = {"url": "https://example.org/hook", "events": ["task.completed"]}
    refused = label.post(f"/api/projects/{project.pk}/webhooks/", webhook, format="json")
    assert refused.status_code == 403 and "needs an admin token" in refused.data["detail"]
    assert label.post("/api/projects/", {"name": "Mine"}, format="json").status_code == 403
    assert label.delete(f"/api/tokens/{ApiToken.objects.get().token_key}/").status_code == 403
    settings_url = f"/api/projects/{project.pk}/"
    assert label.patch(settings_url, {"overlap": 3}, format="json").status_code == 403
    project.refresh_from_db()
    assert project.overlap == 1
    # The same user with an admin token may do what their role allows.
    admin = api_with(api_token(admin_user, scope="admin"))
    assert admin.post("/api/projects/", {"name": "Mine"}, format="json").status_code == 201
    assert admin.patch(settings_url, {"overlap": 3}, format="json").status_code == 200
    project.refresh_from_db()
    assert project.overlap == 3


def test_an_admin_token_is_still_bound_by_the_users_roles(project):
    annotator = add_member(project, StaffFactory())
    admin_token = api_with(api_token(annotator, scope="admin"))
    webhook = {"url": "https://example.org/hook", "events": ["task.completed"]}
    answer = admin_token.post(f"/api/projects/{project.pk}/webhooks/", webhook, format="json")
    assert answer.status_code in (403, 404)


def test_the_browser_session_is_not_limited_by_scopes(client, project, annotator):
    make_task(project)
    client.force_login(annotator)
    assert client.post(f"/api/projects/{project.pk}/tasks/next/").status_code == 200


def _api_views(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{entry.namespace}:" if entry.namespace else ""
            yield from _api_views(entry, prefix + ns)
        elif isinstance(entry, URLPattern) and hasattr(entry.callback, "cls"):
            yield prefix + (entry.name or ""), entry.callback


def test_every_api_view_checks_the_token_scope_and_label_views_exist():
    views = dict(_api_views())
    unchecked = [
        name
        for name, callback in views.items()
        if TokenScopePermission not in callback.cls.permission_classes
        and "Spectacular" not in callback.cls.__name__  # the schema and its docs: read-only
    ]
    assert unchecked == []
    assert set(views) >= LABEL_VIEWS


def test_a_user_has_at_most_fifty_tokens(settings):
    user = UserFactory()
    for _ in range(50):
        api_token_create(user=user, name="many", scope="read", days=7)
    with pytest.raises(ApplicationError, match="revoke one"):
        api_token_create(user=user, name="one more", scope="read", days=7)
    api_token_revoke(user=user, token_key=ApiToken.objects.first().token_key)
    assert api_token_create(user=user, name="one more", scope="read", days=7)
    # Expired tokens do not count, and are cleared.
    ApiToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert api_token_create(user=user, name="after expiry", scope="read", days=7)
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["after expiry"]
