"""Two admins saving the same model server at once, on PostgreSQL, with real threads."""

import threading

import pytest
from django.db import connection

from apps.core.errors import Conflict
from apps.generation.endpoints import model_endpoint_create, stored_backend_config
from apps.generation.models import ModelEndpoint

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LAN = "http://127.0.0.1:9/v1"  # allowed by tests/apps/generation/conftest.py


def _at_once(target, times: int) -> tuple[list, list[BaseException]]:
    results, errors = [], []
    barrier = threading.Barrier(times)

    def runner():
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:  # collected for the test to inspect
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_registering_one_url_twice_at_once_keeps_one_row_and_answers_a_conflict(
    project, admin_user
):
    results, errors = _at_once(
        lambda: model_endpoint_create(project=project, actor=admin_user, base_url=LAN), 4
    )
    assert ModelEndpoint.objects.filter(project=project).count() == 1
    assert len(results) + len(errors) == 4 and results
    assert all(isinstance(error, Conflict) for error in errors), errors


def test_saving_a_backend_for_one_url_at_once_names_one_endpoint_or_asks_to_retry(
    project, admin_user
):
    config = {"type": "openai", "base_url": LAN, "model": "m"}
    results, errors = _at_once(
        lambda: stored_backend_config(config=config, project=project, actor=admin_user), 4
    )
    (endpoint,) = ModelEndpoint.objects.filter(project=project)
    assert results and all(r["endpoint"] == endpoint.pk for r in results)
    assert all(isinstance(error, Conflict) for error in errors), errors
