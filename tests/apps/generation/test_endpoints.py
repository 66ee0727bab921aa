"""Model endpoints: a server's key is encrypted at rest, belongs to its URL, is decrypted only
for the call, and never comes back in an answer; old rows lose their plaintext keys."""

import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from apps.core.crypto import decrypt_secret
from apps.core.errors import ApplicationError
from apps.generation.backends import BackendConfigError
from apps.generation.endpoints import (
    callable_config,
    model_endpoint_create,
    model_endpoint_update,
    stored_backend_config,
)
from apps.generation.models import GenerationJob, ModelEndpoint
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.generation.openai_server import openai_server
from tests.factories import ProjectFactory, PromptFactory, StaffFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

LAN = "http://127.0.0.1:9/v1"  # allowed by tests/apps/generation/conftest.py


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_key_is_stored_encrypted_and_decrypted_only_for_the_call(project, admin_user):
    endpoint = model_endpoint_create(
        project=project, actor=admin_user, base_url=LAN + "/", api_key=" sk-live "
    )
    assert endpoint.base_url == LAN and endpoint.name == "127.0.0.1:9/v1"
    raw = ModelEndpoint.objects.values_list("api_key_encrypted", flat=True).get()
    assert "sk-live" not in raw and decrypt_secret(raw) == "sk-live"
    config = {"type": "openai", "endpoint": endpoint.pk, "model": "m"}
    assert callable_config(config, project_id=project.pk) == {
        "type": "openai",
        "model": "m",
        "base_url": LAN,
        "api_key": "sk-live",
    }


def test_a_new_url_drops_the_key_unless_one_comes_with_it(project, admin_user):
    endpoint = model_endpoint_create(project=project, actor=admin_user, base_url=LAN, api_key="k1")
    model_endpoint_update(endpoint=endpoint, actor=admin_user, name="renamed")
    endpoint.refresh_from_db()
    assert endpoint.has_api_key and endpoint.name == "renamed"
    model_endpoint_update(endpoint=endpoint, actor=admin_user, base_url="http://127.0.0.1:9/v2")
    endpoint.refresh_from_db()
    assert endpoint.base_url.endswith("/v2") and not endpoint.has_api_key
    model_endpoint_update(endpoint=endpoint, actor=admin_user, base_url=LAN, api_key="k2")
    endpoint.refresh_from_db()
    assert decrypt_secret(endpoint.api_key_encrypted) == "k2"
    model_endpoint_update(endpoint=endpoint, actor=admin_user, api_key="")
    endpoint.refresh_from_db()
    assert not endpoint.has_api_key


def test_only_the_projects_admins_manage_its_servers(project, annotator):
    with pytest.raises(ApplicationError, match="Only the project's admins"):
        model_endpoint_create(project=project, actor=annotator, base_url=LAN)
    assert not ModelEndpoint.objects.exists()


def test_a_stored_config_names_the_endpoint_and_keeps_no_key(project, admin_user):
    stored = stored_backend_config(
        config={"type": "openai", "base_url": LAN, "model": "m", "api_key": "sk-x"},
        project=project,
        actor=admin_user,
    )
    endpoint = ModelEndpoint.objects.get()
    assert stored == {"type": "openai", "model": "m", "endpoint": endpoint.pk}
    # No key given: the endpoint of that URL keeps its key.
    stored_backend_config(
        config={"type": "openai", "base_url": LAN, "model": "m2"}, project=project, actor=admin_user
    )
    endpoint.refresh_from_db()
    assert decrypt_secret(endpoint.api_key_encrypted) == "sk-x"


def test_another_projects_endpoint_can_be_neither_stored_nor_called(project, admin_user):
    other = ProjectFactory()
    foreign = ModelEndpoint.objects.create(project=other, name="theirs", base_url=LAN)
    config = {"type": "openai", "endpoint": foreign.pk, "model": "m"}
    with pytest.raises(ApplicationError, match="no model server"):
        stored_backend_config(config=config, project=project, actor=admin_user)
    with pytest.raises(BackendConfigError, match="no longer exists in this project"):
        callable_config(config, project_id=project.pk)


def test_a_generation_job_row_never_holds_the_key_and_the_call_carries_it(project):
    from apps.generation.services import generation_job_create, generation_job_run

    PromptFactory(project=project)
    with openai_server() as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[
                {"type": "openai", "base_url": server.base_url, "model": "a", "api_key": "sk-9"},
                {"type": "openai", "base_url": server.base_url, "model": "b"},
            ],
            n_per_prompt=1,
        )
        generation_job_run(job_id=job.pk, worker="inline")
    stored = GenerationJob.objects.values_list("backends", flat=True).get(pk=job.pk)
    assert "sk-9" not in str(stored) and "base_url" not in str(stored)
    assert {r["headers"]["Authorization"] for r in server.requests} == {"Bearer sk-9"}


# --- the API --------------------------------------------------------------------------------------


def test_the_api_registers_lists_changes_and_deletes_servers_without_showing_keys(
    project, admin_user
):
    api = api_for(admin_user)
    created = api.post(
        f"/api/projects/{project.pk}/model-endpoints/",
        {"name": "lan vllm", "base_url": LAN, "api_key": "sk-api"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.data["has_api_key"] is True and "api_key" not in created.data
    assert "sk-api" not in created.content.decode()
    url = f"/api/model-endpoints/{created.data['id']}/"
    listing = api.get(f"/api/projects/{project.pk}/model-endpoints/")
    assert [e["name"] for e in listing.data] == ["lan vllm"]
    assert "sk-api" not in listing.content.decode()

    moved = api.patch(url, {"base_url": "http://127.0.0.1:9/v2"}, format="json")
    assert moved.status_code == 200 and moved.data["has_api_key"] is False
    assert api.delete(url).status_code == 204
    assert not ModelEndpoint.objects.exists()


def test_the_api_hides_servers_from_annotators_and_other_projects_admins(project, admin_user):
    endpoint = ModelEndpoint.objects.create(project=project, name="x", base_url=LAN)
    annotator = add_member(project, UserFactory())
    stranger = StaffFactory()
    elsewhere = ProjectFactory(kind=FeedbackKind.PAIRWISE, created_by=stranger)
    Membership.objects.create(project=elsewhere, user=stranger, role=Role.ADMIN)
    for user in (annotator, stranger):
        api = api_for(user)
        assert api.get(f"/api/model-endpoints/{endpoint.pk}/").status_code == 404
        assert (
            api.patch(
                f"/api/model-endpoints/{endpoint.pk}/", {"name": "mine"}, format="json"
            ).status_code
            == 404
        )
        assert api.get(f"/api/projects/{project.pk}/model-endpoints/").status_code == 404
        assert (
            api.post(
                f"/api/projects/{project.pk}/model-endpoints/", {"base_url": LAN}, format="json"
            ).status_code
            == 404
        )
    endpoint.refresh_from_db()
    assert endpoint.name == "x" and ModelEndpoint.objects.count() == 1


def test_the_api_refuses_a_second_server_at_one_url(project, admin_user):
    api = api_for(admin_user)
    url = f"/api/projects/{project.pk}/model-endpoints/"
    assert api.post(url, {"base_url": LAN}, format="json").status_code == 201
    again = api.post(url, {"base_url": LAN + "/"}, format="json")
    assert again.status_code == 409 and ModelEndpoint.objects.count() == 1


# --- the data migration ---------------------------------------------------------------------------


def test_the_migration_moves_plaintext_keys_into_encrypted_endpoints(project):
    migration = importlib.import_module("apps.generation.migrations.0005_keys_into_endpoints")
    chat = ProjectFactory(kind=FeedbackKind.CHAT)
    chat.generation_backend = {
        "type": "openai",
        "base_url": "https://llm.example/v1",
        "model": "m",
        "api_key": "sk-chat",
    }
    chat.save()
    job = GenerationJob.objects.create(
        project=project,
        created_by=project.created_by,
        backends=[
            {
                "name": "m",
                "training_run": None,
                "config": {
                    "type": "openai",
                    "base_url": "https://llm.example/v1/",
                    "model": "m",
                    "api_key": "sk-job",
                },
            },
            {
                "name": "local",
                "training_run": None,
                "config": {"type": "transformers", "model": "x"},
            },
        ],
    )

    migration.forwards(django_apps, None)

    chat.refresh_from_db()
    job.refresh_from_db()
    chat_endpoint = ModelEndpoint.objects.get(project=chat)
    job_endpoint = ModelEndpoint.objects.get(project=project)
    assert chat.generation_backend == {"type": "openai", "model": "m", "endpoint": chat_endpoint.pk}
    assert job.backends[0]["config"] == {
        "type": "openai",
        "model": "m",
        "endpoint": job_endpoint.pk,
    }
    assert job.backends[1]["config"] == {"type": "transformers", "model": "x"}
    assert decrypt_secret(chat_endpoint.api_key_encrypted) == "sk-chat"
    assert decrypt_secret(job_endpoint.api_key_encrypted) == "sk-job"
    assert job_endpoint.base_url == "https://llm.example/v1"
    assert "sk-" not in str(GenerationJob.objects.values_list("backends", flat=True).get())


# --- the generation form's saved servers ---------------------------------------------------------


def _form(**fields) -> dict:
    return {
        "openai_models": "served",
        "n_per_prompt": 2,
        "temperature": 0.9,
        "top_p": 0.95,
        "max_tokens": 32,
        "batch_size": 4,
        "selection": "all",
        "pairing": "all",
        "pair_strategy": "all",
        **fields,
    }


def test_the_job_form_offers_the_projects_saved_servers_and_the_job_uses_the_stored_key(
    client, project, admin_user
):
    from apps.generation.services import generation_job_run

    PromptFactory(project=project)
    client.force_login(admin_user)
    other = ModelEndpoint.objects.create(
        project=ProjectFactory(), name="someone else's", base_url=LAN
    )
    with openai_server() as server:
        saved = model_endpoint_create(
            project=project,
            actor=admin_user,
            base_url=server.base_url,
            name="lab",
            api_key="sk-lab",
        )
        page = client.get(f"/projects/{project.pk}/generation/new/").content.decode()
        assert f"lab ({server.base_url}), key stored" in page
        assert "someone else" not in page and "sk-lab" not in page

        answer = client.post(
            f"/projects/{project.pk}/generation/new/", _form(openai_endpoint=saved.pk)
        )
        job = GenerationJob.objects.get()
        assert answer.status_code == 302
        assert job.backends[0]["config"] == {
            "type": "openai",
            "endpoint": saved.pk,
            "model": "served",
        }
        generation_job_run(job_id=job.pk, worker="inline")
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-lab"
    # Another project's server is no choice at all.
    refused = client.post(
        f"/projects/{project.pk}/generation/new/", _form(openai_endpoint=other.pk)
    )
    assert refused.status_code == 422 and GenerationJob.objects.count() == 1


def test_the_job_form_takes_a_saved_server_or_a_url_not_both(client, project, admin_user):
    saved = ModelEndpoint.objects.create(project=project, name="lab", base_url=LAN)
    client.force_login(admin_user)
    both = client.post(
        f"/projects/{project.pk}/generation/new/",
        _form(openai_endpoint=saved.pk, openai_base_url=LAN),
    )
    assert both.status_code == 422 and "not both" in both.content.decode()
    neither = client.post(f"/projects/{project.pk}/generation/new/", _form())
    assert neither.status_code == 422 and "Choose a saved server" in neither.content.decode()
    assert not GenerationJob.objects.exists()
