"""Generation, rounds and the leaderboard's votes are linked or shown only for the kinds whose
services can fill them, and their pages still answer by URL for every kind."""

import pytest
from django.urls import reverse

from apps.projects.models import FeedbackKind, Membership, Role
from tests.factories import PASSWORD, ProjectFactory, StaffFactory

pytestmark = pytest.mark.django_db

GENERATES = {"pairwise", "listwise", "principles", "thumbs", "hindsight"}  # services.py
ROUNDS = {"pairwise", "listwise", "thumbs"}  # rounds.round_start
VOTES = {"pairwise", "hindsight"}  # dashboard/leaderboard.VOTE_KINDS


@pytest.mark.parametrize("kind", FeedbackKind.values)
def test_each_kind_links_only_the_generation_pages_it_can_fill(client, kind):
    admin = StaffFactory()
    project = ProjectFactory(kind=kind, created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client.login(username=admin.username, password=PASSWORD)
    generation = reverse("generation:list", args=[project.pk])
    rounds = reverse("generation:rounds", args=[project.pk])

    detail = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    board = client.get(reverse("dashboard:leaderboard", args=[project.pk]))

    assert (f'href="{generation}"' in detail) == (kind in GENERATES)
    assert (f'href="{rounds}"' in board.content.decode()) == (kind in ROUNDS)
    assert ('class="leaderboard"' in board.content.decode()) == (kind in VOTES)
    assert "No trained policies yet." in board.content.decode()
    for url in (generation, rounds):
        assert client.get(url).status_code == 200
