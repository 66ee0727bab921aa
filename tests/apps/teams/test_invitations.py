"""Invitations by link: a role and an expiry, single use, emailed through Django's email
backend; accepting makes an account or adds the signed-in user."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.projects.models import Membership, Qualification, Role
from apps.teams.models import Invitation
from apps.teams.services import InvitationRefused, invitation_accept, invitation_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_accepting_makes_an_account_with_the_role_and_the_link_works_once(project, admin_user):
    invitation, secret = invitation_create(project=project, by=admin_user, role=Role.ADMIN)
    assert invitation.digest != secret and secret not in invitation.digest

    user, membership = invitation_accept(secret=secret, username="newcomer", password=PASSWORD)

    assert user.check_password(PASSWORD)
    assert membership.role == Role.ADMIN and membership.project == project
    with pytest.raises(InvitationRefused, match="used already"):
        invitation_accept(secret=secret, username="second", password=PASSWORD)
    assert not User.objects.filter(username="second").exists()


def test_an_existing_signed_in_user_joins_and_keeps_a_role_they_have(project, admin_user):
    other = UserFactory()
    _, secret = invitation_create(project=project, by=admin_user, role=Role.ANNOTATOR)
    _, membership = invitation_accept(secret=secret, user=other)
    assert membership.user == other and membership.role == Role.ANNOTATOR

    _, again = invitation_create(project=project, by=admin_user, role=Role.ANNOTATOR)
    _, kept = invitation_accept(secret=again, user=admin_user)
    assert kept.role == Role.ADMIN  # an admin following an annotator link is not demoted


def test_an_expired_link_is_refused_with_its_date(project, admin_user):
    invitation, secret = invitation_create(project=project, by=admin_user)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(InvitationRefused, match="expired"):
        invitation_accept(secret=secret, username="late", password=PASSWORD)


def test_an_unknown_link_is_refused(project):
    with pytest.raises(InvitationRefused, match="not valid"):
        invitation_accept(secret="made-up", username="x", password=PASSWORD)


def test_a_weak_password_or_a_taken_username_is_refused_and_the_link_stays_usable(
    project, admin_user
):
    _, secret = invitation_create(project=project, by=admin_user)
    with pytest.raises(ApplicationError, match="taken"):
        invitation_accept(secret=secret, username=admin_user.username, password=PASSWORD)
    with pytest.raises(ApplicationError):
        invitation_accept(secret=secret, username="weakling", password="1")
    user, _ = invitation_accept(secret=secret, username="strong", password=PASSWORD)
    assert user.username == "strong"


def test_a_new_annotator_of_a_project_with_a_qualification_starts_it(project, admin_user):
    project.qualification_tasks = 3
    project.save()
    _, secret = invitation_create(project=project, by=admin_user, group="Linguists NL")
    _, membership = invitation_accept(secret=secret, username="qualifier", password=PASSWORD)
    assert membership.qualification == Qualification.PENDING
    assert membership.group == "linguists-nl"


def test_the_admin_page_shows_the_link_once_and_emails_it(
    client, project, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("teams:invite", args=[project.pk]),
            {"role": "annotator", "email": "ann@example.org", "days": 7},
        )
    assert response.status_code == 302
    page = client.get(reverse("teams:team", args=[project.pk])).content.decode()
    link = page.split('id="invitation-link" type="text" readonly value="')[1].split('"')[0]
    assert "/invitations/" in link
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    assert mail.outbox[0].to == ["ann@example.org"]
    assert link not in client.get(reverse("teams:team", args=[project.pk])).content.decode()


def test_the_accept_page_answers_410_with_the_reason_for_a_used_link(client, project, admin_user):
    _, secret = invitation_create(project=project, by=admin_user)
    url = reverse("teams:accept", args=[secret])
    response = client.post(url, {"username": "fresh", "password": PASSWORD})
    assert response.status_code == 302
    assert Membership.objects.filter(project=project, user__username="fresh").exists()
    client.logout()
    response = client.get(url)
    assert response.status_code == 410 and b"used already" in response.content


def test_only_project_admins_invite(client, project, annotator):
    client.force_login(annotator)
    response = client.post(reverse("teams:invite", args=[project.pk]), {"role": "admin", "days": 7})
    assert response.status_code == 404
    assert not Invitation.objects.exists()
