"""Teams in the browser: accepting an invitation, signing in through a real OIDC provider,
an assigned task reaching only its annotator, and a qualification gating someone's labels."""

import re

import pytest

from apps.feedback.models import Judgment
from apps.labeling.services import counted_judgments
from apps.projects.models import Membership, Qualification, Role
from apps.projects.services import membership_set
from apps.teams.models import Invitation
from apps.teams.services import tasks_assign
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, UserFactory, add_member, make_task
from tests.oidc_provider.fixture import oidc_provider  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
A_BETTER = {"choice": "A", "strength": "clearly"}


def judge_shown_task(page, expected_count: int) -> None:
    """Picks the left response with the keyboard and waits for the next task to swap in."""
    page.wait_for_selector("form.judge")
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelector('[data-judged]').textContent === String(n)",
        arg=expected_count,
    )


def test_an_admin_invites_someone_who_makes_an_account_and_lands_in_the_project(
    page, live_server, project, admin_user
):
    problems = watch_for_violations(page)
    log_in(page, live_server, admin_user.username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_role("button", name="Make invitation link").click()
    link = page.locator("#invitation-link").input_value()
    assert re.search(r"/invitations/[\w-]{30,}/$", link)
    screenshot(page, "team")
    page.get_by_role("button", name="Log out").click()

    page.goto(link)
    page.get_by_role("heading", name=f"Join “{project.name}”").wait_for()
    page.get_by_label("Username").fill("invitee")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Make my account and join").click()
    page.get_by_text(f"Welcome to {project.name}").wait_for()
    assert Membership.objects.get(project=project, user__username="invitee").role == Role.ANNOTATOR
    assert Invitation.objects.get().accepted_by.username == "invitee"

    assert problems == []

    response = page.goto(link)  # the link works once
    page.get_by_text("This invitation was used already").wait_for()
    assert response.status == 410


def test_signing_in_through_the_oidc_provider_grants_the_mapped_project_role(
    page,
    live_server,
    project,
    settings,
    oidc_provider,  # noqa: F811
):
    settings.ARBITER_OIDC_GROUP_ROLES = {"labelers": {str(project.pk): "annotator"}}
    problems = watch_for_violations(page)
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()

    page.get_by_role("heading", name="Test identity provider: sign in").wait_for()
    assert page.url.startswith(oidc_provider.url.removesuffix("/o") + "/login/")  # at the provider
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("ada-password")
    page.get_by_role("button", name="Sign in at the provider").click()

    page.wait_for_url(f"{live_server.url}/projects/")
    page.get_by_role("link", name=project.name).wait_for()
    membership = Membership.objects.get(project=project, user__email="ada@example.org")
    assert membership.role == Role.ANNOTATOR
    assert membership.user.oidc_identities.count() == 1
    assert not membership.user.has_usable_password()
    assert problems == []


def test_a_task_assigned_to_one_annotator_reaches_only_them(page, live_server, project):
    reserved = make_task(project, texts=["Reserved left answer", "Reserved right answer"])
    make_task(project, texts=["Open left answer", "Open right answer"])
    owner = add_member(project, UserFactory(username="owner"))
    add_member(project, UserFactory(username="other"))
    tasks_assign(project=project, task_ids=[reserved.pk], annotator_id=owner.pk)

    log_in(page, live_server, "other", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")
    assert "Open left answer" in page.content()
    assert "Reserved" not in page.content()
    judge_shown_task(page, 1)
    page.get_by_role("heading", name="All done").wait_for()
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server, "owner", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")
    assert "Reserved left answer" in page.content()
    judge_shown_task(page, 1)
    assert Judgment.objects.get(task=reserved).annotator == owner


def test_a_qualification_gates_an_annotators_labels_until_they_pass(page, live_server, project):
    project.qualification_tasks, project.qualification_accuracy = 1, 1.0
    project.save()
    gold = make_task(project, is_gold=True, gold_payload={"choice": "tie"})
    plain = make_task(project)
    newcomer = UserFactory(username="newcomer")
    membership_set(project=project, user=newcomer)

    log_in(page, live_server, "newcomer", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("form.judge")
    assert page.get_attribute("form.judge", "data-assignment")
    judge_shown_task(page, 1)  # the gold task, answered "tie": right
    page.wait_for_selector("form.judge")  # passed: the rest of the project opens
    assert Membership.objects.get(user=newcomer).qualification == Qualification.PASSED
    assert list(counted_judgments().filter(annotator=newcomer).values_list("task", flat=True)) == [
        gold.pk
    ]
    judge_shown_task(page, 2)
    assert Judgment.objects.filter(task=plain, annotator=newcomer).exists()

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, project.created_by.username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/team/")
    row = page.locator("tr[data-member=newcomer]")
    assert "Passed" in row.inner_text() and "1/1 right" in row.inner_text()


def test_a_failed_qualification_stops_the_tasks_and_the_labels_never_count(
    page, live_server, project
):
    project.qualification_tasks, project.qualification_accuracy = 1, 1.0
    project.save()
    gold = make_task(project, is_gold=True, gold_payload={"choice": "A"})
    make_task(project)
    membership_set(project=project, user=UserFactory(username="guesser"))

    log_in(page, live_server, "guesser", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    judge_shown_task(page, 1)  # "tie" where the gold answer is A: wrong
    page.get_by_text("did not reach the accuracy this project asks for").wait_for()

    assert Membership.objects.get(user__username="guesser").qualification == Qualification.FAILED
    assert Judgment.objects.filter(task=gold, annotator__username="guesser").exists()
    assert not counted_judgments().filter(annotator__username="guesser").exists()
    gold.refresh_from_db()
    assert gold.judgment_count == 0
