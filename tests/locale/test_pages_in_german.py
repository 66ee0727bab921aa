"""A project's pages render in German for a German-speaking admin: no translation breaks a page
(a wrong placeholder in a catalog entry raises while rendering)."""

import pytest
from django.urls import reverse

from apps.projects.models import Role
from tests.factories import StaffFactory, UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db

PROJECT_PAGES = [
    "projects:detail",
    "projects:settings",
    "projects:principles",
    "dashboard:overview",
    "dashboard:judgments",
    "dashboard:compare",
    "dashboard:leaderboard",
    "dashboard:disagreements",
    "dashboard:jobs",
    "quality:table",
    "training:list",
    "generation:list",
    "generation:new",
    "generation:rounds",
    "autopilot:home",
    "judges:list",
    "judges:calibration",
    "imports:new",
    "exports:home",
    "teams:team",
    "labeling:label",
]


def test_every_project_page_renders_in_german(client, project):
    make_task(project)
    admin = add_member(project, StaffFactory(language="de"), role=Role.ADMIN)
    client.force_login(admin)

    for name in PROJECT_PAGES:
        page = client.get(reverse(name, args=[project.pk]))
        assert page.status_code == 200, name
        assert page["Content-Language"] == "de", name
    pages = [reverse("projects:list"), reverse("accounts:tokens"), reverse("accounts:settings")]
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_an_annotator_without_a_choice_sees_the_labeling_page_in_the_browsers_german(
    client, project
):
    make_task(project)
    client.force_login(add_member(project, UserFactory()))

    page = client.get(reverse("labeling:label", args=[project.pk]), HTTP_ACCEPT_LANGUAGE="de")

    assert "Welche Antwort ist besser?" in page.content.decode()
