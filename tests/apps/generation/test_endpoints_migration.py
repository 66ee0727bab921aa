"""The upgrade: a database with plaintext API keys in chat backends and generation job rows is
migrated, and the keys end up encrypted in endpoint rows, gone from every config."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.core.crypto import decrypt_secret

# The projects and accounts apps go back with it: the historical Project and User models have to
# match their tables (fields added to them later have no database default to fill them in).
BEFORE = [
    ("generation", "0004_model_endpoints"),
    ("projects", "0003_project_queue_order"),
    ("accounts", "0003_import_authtoken_tokens"),
]


@pytest.mark.django_db(transaction=True)
def test_upgrading_moves_plaintext_keys_into_encrypted_endpoints():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("accounts", "User").objects.create(username="upgrader")
    Project = old.get_model("projects", "Project")
    chat = Project.objects.create(
        name="chat",
        kind="chat",
        created_by=user,
        generation_backend={
            "type": "openai",
            "base_url": "https://llm.example/v1",
            "model": "m",
            "api_key": "sk-chat-plain",
        },
    )
    pairwise = Project.objects.create(name="pairs", kind="pairwise", created_by=user)
    job = old.get_model("generation", "GenerationJob").objects.create(
        project=pairwise,
        created_by=user,
        backends=[
            {
                "name": "m",
                "training_run": None,
                "config": {
                    "type": "openai",
                    "base_url": "https://llm.example/v1",
                    "model": "m",
                    "api_key": "sk-job-plain",
                },
            }
        ],
    )

    executor = MigrationExecutor(connection)  # a fresh graph, as `migrate` would load it
    executor.migrate(executor.loader.graph.leaf_nodes())

    from apps.generation.models import GenerationJob, ModelEndpoint
    from apps.projects.models import Project as CurrentProject

    chat_backend = CurrentProject.objects.get(pk=chat.pk).generation_backend
    backends = GenerationJob.objects.get(pk=job.pk).backends
    chat_endpoint = ModelEndpoint.objects.get(project_id=chat.pk)
    job_endpoint = ModelEndpoint.objects.get(project_id=pairwise.pk)
    assert chat_backend == {"type": "openai", "model": "m", "endpoint": chat_endpoint.pk}
    assert backends[0]["config"] == {"type": "openai", "model": "m", "endpoint": job_endpoint.pk}
    assert decrypt_secret(chat_endpoint.api_key_encrypted) == "sk-chat-plain"
    assert decrypt_secret(job_endpoint.api_key_encrypted) == "sk-job-plain"
    with connection.cursor() as cursor:
        cursor.execute("SELECT generation_backend FROM projects_project")
        stored = str(cursor.fetchall())
        cursor.execute("SELECT backends FROM generation_generationjob")
        stored += str(cursor.fetchall())
        cursor.execute("SELECT api_key_encrypted FROM generation_modelendpoint")
        stored += str(cursor.fetchall())
    assert "plain" not in stored
