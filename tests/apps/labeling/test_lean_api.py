"""The lean path of the token labeling API (apps/core/lean.py `lean_token_api`): a token request
for the next task or a submit answers exactly what the DRF view answers, and the rest still
goes to the DRF view."""

import re
from unittest import mock

import psycopg2
import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.views import APIView

from apps.feedback.models import Judgment
from apps.projects.models import Membership
from tests.factories import ProjectFactory, UserFactory, add_member, api_token, make_task

BODY = '{"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 1000}'
JSON = "application/json"
# Differ between two identical worlds or two requests; everything else must match.
UNSTABLE_HEADERS = {"Date", "Content-Length"}


def _normal(value):
    """The answer with ids, numbers and times blanked, and a lease's responses (shown in a
    random order) sorted: two worlds built alike then compare equal."""
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items()}
        if isinstance(value.get("responses"), list):
            out["letters"] = sorted(r["letter"] for r in value["responses"])
            out["responses"] = sorted((_normal(r["text"]), r["source"]) for r in value["responses"])
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return "#"
    if isinstance(value, str):
        return re.sub(r"\d+", "#", value)
    return value


def _answer(response) -> tuple:
    body = response.content
    parsed = _normal(response.json()) if body and response["Content-Type"] == JSON else body
    headers = {k: v for k, v in response.headers.items() if k not in UNSTABLE_HEADERS}
    return response.status_code, _normal(headers), parsed


def _world():
    project = ProjectFactory(overlap=1)
    for _ in range(2):
        make_task(project, texts=["The first answer.", "The second answer."])
    annotator = add_member(project, UserFactory())
    other = add_member(project, UserFactory())
    return {
        "project": project,
        "label": api_token(annotator, scope="label"),
        "read": api_token(annotator, scope="read"),
        "other": api_token(other, scope="label"),
        "annotator": annotator,
        "foreign": ProjectFactory(),
        "superuser": api_token(UserFactory(is_superuser=True), scope="label"),
    }


def _post(client, path, token, body="", **extra):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return client.post(path, body, content_type=JSON, **headers, **extra)


def _scenario(world) -> list[tuple]:
    """The annotator's loop and its refusals, each answer as _answer gives it."""
    client = Client()
    project, label = world["project"], world["label"]
    next_path = f"/api/projects/{project.pk}/tasks/next/"
    answers = []
    lease = _post(client, next_path, label)
    answers.append(_answer(lease))
    answers.append(_answer(_post(client, next_path, label)))  # the open lease again
    submit_path = f"/api/assignments/{lease.json()['assignment']}/judgment/"
    answers.append(_answer(_post(client, submit_path, world["other"], BODY)))  # not theirs: 404
    answers.append(_answer(_post(client, submit_path, label, '{"payload": {"choice": "C"}}')))
    answers.append(_answer(_post(client, submit_path, label, '{"duration_ms": -1}')))  # fields
    answers.append(_answer(_post(client, submit_path, label, "{not json")))
    answers.append(_answer(_post(client, submit_path, label, BODY)))  # 201
    answers.append(_answer(_post(client, submit_path, label, BODY)))  # again: 200, the same
    rewrite = '{"payload": {"choice": "B", "strength": "slightly"}, "critique": "  Why.  "}'
    second = _post(client, next_path, label)
    answers.append(_answer(second))
    path = f"/api/assignments/{second.json()['assignment']}/judgment/"
    answers.append(_answer(_post(client, path, label, rewrite)))
    answers.append(_answer(_post(client, next_path, label)))  # none left: 204
    answers.append(
        _answer(_post(client, f"/api/projects/{world['foreign'].pk}/tasks/next/", label))
    )
    # A superuser sees every project: no task there for them, but no 404 either.
    answers.append(
        _answer(
            _post(client, f"/api/projects/{world['foreign'].pk}/tasks/next/", world["superuser"])
        )
    )
    answers.append(_answer(_post(client, next_path, world["read"])))  # read token: 403
    answers.append(_answer(_post(client, next_path, "arb_not-a-token")))  # 401
    answers.append(_answer(_post(client, next_path, None)))
    Membership.objects.filter(user=world["annotator"]).update(excluded_at=timezone.now())
    answers.append(_answer(_post(client, next_path, label)))  # excluded: 403
    return answers


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_lean_path_answers_exactly_what_the_drf_view_answers(settings):
    settings.ARBITER_LEAN_LABELING_API = True
    lean = _scenario(_world())
    settings.ARBITER_LEAN_LABELING_API = False
    drf = _scenario(_world())
    assert [a[0] for a in lean] == [
        200, 200, 404, 400, 400, 400, 201, 200, 200, 201, 204, 404, 204, 403, 401, 401, 403
    ]  # fmt: skip
    for step, (got, expected) in enumerate(zip(lean, drf, strict=True)):
        assert got == expected, f"step {step}"
    assert Judgment.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_token_request_for_json_skips_drf_and_anything_else_reaches_it(settings):
    settings.ARBITER_LEAN_LABELING_API = True
    world = _world()
    next_path = f"/api/projects/{world['project'].pk}/tasks/next/"
    client = Client()
    with mock.patch.object(APIView, "dispatch", autospec=True, side_effect=APIView.dispatch) as drf:
        lease = _post(client, next_path, world["label"])
        _post(
            client, f"/api/assignments/{lease.json()['assignment']}/judgment/", world["label"], BODY
        )
        assert drf.call_count == 0
        _post(client, next_path, world["label"], HTTP_ACCEPT="text/html")  # the browsable page
        _post(client, next_path, world["read"])
        _post(client, next_path + "?format=json", world["label"])
        assert drf.call_count == 3


@pytest.mark.django_db
def test_the_schema_still_documents_the_lean_routes(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    next_op = schema["paths"]["/api/projects/{project_id}/tasks/next/"]["post"]
    submit_op = schema["paths"]["/api/assignments/{assignment_id}/judgment/"]["post"]
    assert set(next_op["responses"]) == {"200", "204"}
    assert set(submit_op["responses"]) == {"200", "201"}
    assert "requestBody" in submit_op


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_lean_path_counts_the_users_rate_and_leaves_the_refusal_to_drf(settings):
    from django.core.cache import cache

    cache.clear()  # throttles count in the default cache
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": "3/min", "auth": None},
    }
    world = _world()
    next_path = f"/api/projects/{world['project'].pk}/tasks/next/"
    client = Client()
    try:
        with mock.patch.object(
            APIView, "dispatch", autospec=True, side_effect=APIView.dispatch
        ) as drf:
            statuses = [_post(client, next_path, world["label"]).status_code for _ in range(3)]
            assert drf.call_count == 0
            refused = _post(client, next_path, world["label"])
            assert drf.call_count == 1
    finally:
        cache.clear()
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60


def _request_ends() -> None:
    """What the end of a request does to the kept connection outside tests (Django's test client
    leaves close_old_connections out): its health check is due again."""
    connection.close_if_unusable_or_obsolete()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_token_read_stands_in_for_the_health_check_and_replaces_a_dead_connection():
    world = _world()
    client = Client()
    next_path = f"/api/projects/{world['project'].pk}/tasks/next/"
    assert _post(client, next_path, world["label"]).status_code == 200
    _request_ends()
    with mock.patch.object(
        type(connections["default"]), "is_usable", side_effect=AssertionError
    ) as check:
        assert _post(client, next_path, world["label"]).status_code == 200
        assert check.call_count == 0  # no `SELECT 1` before the token's statement

        # The server ends the kept connection between two requests (a restart, a timeout).
        _request_ends()
        dead = connection.connection.info.backend_pid
        with psycopg2.connect(**_libpq_params()) as other, other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [dead])  # waits for the end
        lease = _post(client, next_path, world["label"])

    assert lease.status_code == 200
    assert connection.connection.info.backend_pid != dead
    submit = f"/api/assignments/{lease.json()['assignment']}/judgment/"
    assert _post(client, submit, world["label"], BODY).status_code == 201


def _libpq_params() -> dict:
    settings_dict = connection.settings_dict
    return {
        "dbname": settings_dict["NAME"],
        "user": settings_dict["USER"],
        "host": settings_dict["HOST"],
        "port": settings_dict["PORT"],
        "password": settings_dict["PASSWORD"],
    }
