import pytest
from django.urls import reverse

from apps.arena.services import battle_start, turn_send
from apps.generation.models import ModelEndpoint
from tests.apps.arena.conftest import answered

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_an_admin_adds_an_endpoint_model_to_the_arena_and_a_member_may_not(
    client, arena_project, arena_admin, voter, settings
):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:8001"]
    url = reverse("arena:contestants", args=[arena_project.pk])
    form = {"type": "openai", "model": "llama-3-8b", "base_url": "http://127.0.0.1:8001/v1"}
    client.force_login(voter)
    assert client.post(url, form).status_code == 404
    client.force_login(arena_admin)

    assert client.post(url, form).status_code == 302

    added = arena_project.arena_contestants.get(name="llama-3-8b")
    endpoint = ModelEndpoint.objects.get(project=arena_project, base_url=form["base_url"])
    assert added.backend["endpoint"] == endpoint.pk and "base_url" not in added.backend
    assert "llama-3-8b" in client.get(url).content.decode()


def test_the_battle_page_names_no_model_until_the_reveal(client, arena_project, voter, llm):
    llm.responder = lambda body: "An answer."  # answers that do not name their model
    battle = battle_start(user=voter, project_id=arena_project.pk)
    answered(turn_send(user=voter, battle_id=battle.pk, content="Hi"))
    client.force_login(voter)
    url = reverse("arena:battle", args=[battle.pk])

    before = client.get(url).content.decode()
    voted = client.post(
        reverse("arena:vote", args=[battle.pk]), {"choice": "A", "strength": "slightly"}, **HTMX
    ).content.decode()
    revealed = client.post(reverse("arena:reveal", args=[battle.pk]), **HTMX).content.decode()

    for html in (before, voted):
        assert "model-x" not in html and "model-y" not in html
    assert "arena-vote-form" in before and "data-reveal" in voted
    a, b = battle.contestant_a.name, battle.contestant_b.name
    assert f"A was {a}; B was {b}." in revealed
