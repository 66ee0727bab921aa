import pytest
from rest_framework.test import APIClient

from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from tests.factories import ProjectFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_requests_without_a_token_are_refused(project):
    assert APIClient().get("/api/projects/").status_code == 401


def test_annotator_lists_only_their_projects(project, annotator):
    ProjectFactory()
    assert [p["id"] for p in api_for(annotator).get("/api/projects/").data] == [project.pk]


def test_next_then_submit_over_the_api_round_trip(project, annotator):
    make_task(project)
    client = api_for(annotator)
    lease = client.post(f"/api/projects/{project.pk}/tasks/next/").data
    assert [r["letter"] for r in sorted(lease["responses"], key=lambda r: r["letter"])] == [
        "A",
        "B",
    ]
    url = f"/api/assignments/{lease['assignment']}/judgment/"
    body = {"payload": {"choice": "A", "strength": "much"}, "duration_ms": 500}
    assert client.post(url, body, format="json").status_code == 201
    assert client.post(url, body, format="json").status_code == 200, (
        "a retry is answered, not counted"
    )
    assert Judgment.objects.count() == 1
    assert client.post(f"/api/projects/{project.pk}/tasks/next/").status_code == 204


def test_bad_payload_is_a_400_with_a_reason(project, annotator):
    make_task(project)
    client = api_for(annotator)
    lease = client.post(f"/api/projects/{project.pk}/tasks/next/").data
    answer = client.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {"payload": {"choice": "Z"}},
        format="json",
    )
    assert answer.status_code == 400 and "choice must be one of" in answer.data["detail"]


def test_foreign_project_task_and_judgment_answer_404(project, annotator):
    foreign = ProjectFactory()
    make_task(foreign)
    stranger = add_member(foreign)
    lease = task_claim_next(project=foreign, annotator=stranger)
    judgment = judgment_submit(
        assignment_id=lease.pk, annotator=stranger, payload={"choice": "tie"}
    ).judgment
    client = api_for(annotator)
    assert client.get(f"/api/projects/{foreign.pk}/").status_code == 404
    assert client.post(f"/api/projects/{foreign.pk}/tasks/next/").status_code == 404
    assert (
        client.post(
            f"/api/assignments/{lease.pk}/judgment/", {"payload": {"choice": "tie"}}, format="json"
        ).status_code
        == 404
    )
    assert client.get(f"/api/judgments/{judgment.pk}/").status_code == 404
    assert client.get(f"/api/projects/{foreign.pk}/judgments/").status_code == 404


def test_annotator_sees_only_their_own_judgments_and_admin_sees_all(project, admin_user):
    make_task(project)
    make_task(project)
    one, two = add_member(project), add_member(project)
    for who in (one, two):
        lease = task_claim_next(project=project, annotator=who)
        judgment_submit(assignment_id=lease.pk, annotator=who, payload={"choice": "tie"})
    assert api_for(one).get(f"/api/projects/{project.pk}/judgments/").data["count"] == 1
    assert api_for(admin_user).get(f"/api/projects/{project.pk}/judgments/").data["count"] == 2
    other_judgment = Judgment.objects.get(annotator=two)
    assert api_for(one).get(f"/api/judgments/{other_judgment.pk}/").status_code == 404


def test_only_staff_create_projects(annotator, admin_user):
    assert (
        api_for(annotator).post("/api/projects/", {"name": "x"}, format="json").status_code == 403
    )
    created = api_for(admin_user).post("/api/projects/", {"name": "x", "overlap": 2}, format="json")
    assert created.status_code == 201 and created.data["overlap"] == 2


def test_annotator_cannot_import_into_their_project(project, annotator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("d.jsonl", b'{"prompt": "p", "responses": ["a", "b"]}')
    assert (
        api_for(annotator)
        .post(f"/api/projects/{project.pk}/imports/", {"file": upload}, format="multipart")
        .status_code
        == 404
    )


def test_openapi_schema_is_served(annotator):
    answer = api_for(annotator).get("/api/schema/")
    assert answer.status_code == 200 and b"/api/projects/{project_id}/tasks/next/" in answer.content
