"""Single sign-on is off unless configured; group claims map to project roles; an account is
found by the provider's subject, never by an email claim alone."""

import pytest
from django.urls import reverse

from apps.projects.models import Membership, Role
from apps.teams.models import OidcIdentity
from apps.teams.oidc import OidcBackend, oidc_roles_apply, roles_from_groups
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(settings):
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "arbiter", "secret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example.org/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.example.org/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://idp.example.org/userinfo"
    return settings


def test_without_configuration_the_sign_in_urls_answer_404_and_the_login_page_has_no_button(
    client,
):
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404
    assert b"Sign in with" not in client.get(reverse("login")).content


def test_configured_the_login_page_offers_the_provider_and_sends_the_browser_there(
    client, configured
):
    configured.ARBITER_OIDC_PROVIDER_NAME = "Acme SSO"
    assert b"Sign in with Acme SSO" in client.get(reverse("login")).content
    response = client.get(reverse("oidc_authentication_init"))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://idp.example.org/authorize?")
    assert "code_challenge=" in location and "nonce=" in location


def test_groups_grant_roles_and_admin_wins_over_annotator(settings):
    settings.ARBITER_OIDC_GROUP_ROLES = {
        "labelers": {"3": "annotator", "4": "annotator"},
        "leads": {"3": "admin"},
        "typo": {"5": "owner"},
    }
    assert roles_from_groups(["labelers", "leads", "typo", "unknown"]) == {
        3: Role.ADMIN,
        4: Role.ANNOTATOR,
    }


def test_applying_roles_joins_the_mapped_projects_and_skips_missing_ones(settings):
    project = ProjectFactory()
    settings.ARBITER_OIDC_GROUP_ROLES = {
        "labelers": {str(project.pk): "annotator", "999999": "admin"}
    }
    user = UserFactory()
    oidc_roles_apply(user=user, groups=["labelers"])
    assert Membership.objects.get(user=user).project == project


def test_an_email_claim_alone_does_not_open_an_existing_account(configured):
    existing = UserFactory(email="boss@example.org")
    backend = OidcBackend()
    claims = {"sub": "attacker-1", "email": "boss@example.org", "preferred_username": "boss"}
    assert list(backend.filter_users_by_claims(claims)) == []
    user = backend.create_user(claims)
    assert user != existing and user.username != existing.username
    assert OidcIdentity.objects.get(user=user).subject == "attacker-1"
    assert list(backend.filter_users_by_claims(claims)) == [user]


def test_a_sign_in_never_lowers_an_admin_to_annotator(settings):
    project = ProjectFactory()
    settings.ARBITER_OIDC_GROUP_ROLES = {"labelers": {str(project.pk): "annotator"}}
    user = UserFactory()
    Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    oidc_roles_apply(user=user, groups=["labelers"])
    assert Membership.objects.get(user=user).role == Role.ADMIN
