"""The dataset API: who may see what, listing, creating and downloading."""

import json

import pytest
from rest_framework.test import APIClient

from apps.exports.models import Snapshot
from apps.exports.services import snapshot_create
from apps.projects.models import Membership, Role
from tests.apps.exports.helpers import judge
from tests.factories import ProjectFactory, StaffFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def judged(project, annotator):
    for choice in ("A", "B", "tie"):
        judge(
            make_task(project),
            annotator,
            {"choice": choice, "strength": None if choice == "tie" else "much"},
        )
    return project


@pytest.fixture
def foreign():
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    judge(make_task(project), add_member(project), {"choice": "A", "strength": "much"})
    return project, snapshot_create(project=project, kind="pairs", options={}, user=admin)


def test_the_jsonl_export_streams_rows(judged, admin_user):
    response = api_for(admin_user).get(f"/api/projects/{judged.pk}/exports/pairs.jsonl")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in streamed(response).splitlines()]
    assert [r["margin"] for r in rows] == [4.0, 4.0]


def test_the_parquet_export_downloads(judged, admin_user, tmp_path):
    import pyarrow.parquet as pq

    response = api_for(admin_user).get(
        f"/api/projects/{judged.pk}/exports/pairs.parquet?form=conversational&split=0.5"
    )

    assert response.status_code == 200
    (tmp_path / "x.parquet").write_bytes(streamed(response))
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.num_rows == 2 and "split" in table.column_names


def test_bad_options_answer_400_with_a_reason(judged, admin_user):
    client = api_for(admin_user)
    answer = client.get(f"/api/projects/{judged.pk}/exports/pairs.jsonl?aggregate=mean_rank")
    assert answer.status_code == 400 and "aggregates by" in answer.json()["detail"]
    answer = client.get(f"/api/projects/{judged.pk}/exports/listwise.jsonl")
    assert answer.status_code == 400


def test_a_foreign_projects_exports_and_snapshots_answer_404(judged, admin_user, foreign):
    other, snapshot = foreign
    client = api_for(admin_user)

    for url in (
        f"/api/projects/{other.pk}/exports/pairs.jsonl",
        f"/api/projects/{other.pk}/exports/",
        f"/api/projects/{other.pk}/snapshots/",
        f"/api/snapshots/{snapshot.pk}/",
        f"/api/snapshots/{snapshot.pk}/download/",
        f"/api/projects/{other.pk}/webhooks/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/api/projects/{other.pk}/snapshots/", {"kind": "pairs"}).status_code == 404


def test_exports_are_for_admins_only(judged, annotator):
    client = api_for(annotator)
    assert client.get(f"/api/projects/{judged.pk}/exports/pairs.jsonl").status_code == 403
    assert client.get(f"/api/projects/{judged.pk}/snapshots/").status_code == 403
    snapshot = snapshot_create(project=judged, kind="pairs", options={}, user=None)
    assert client.get(f"/api/snapshots/{snapshot.pk}/download/").status_code == 404
    assert APIClient().get(f"/api/projects/{judged.pk}/snapshots/").status_code == 401


def test_snapshots_are_created_listed_filtered_and_downloaded(judged, admin_user):
    client = api_for(admin_user)

    created = client.post(
        f"/api/projects/{judged.pk}/snapshots/",
        {"kind": "pairs", "aggregate": "majority"},
        format="json",
    )
    client.post(f"/api/projects/{judged.pk}/snapshots/", {"kind": "raw"}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["row_count"] == 2 and body["row_counts"]["skipped"] == {"no_preference": 1}
    listed = client.get(f"/api/projects/{judged.pk}/snapshots/?kind=pairs").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert client.get(f"/api/projects/{judged.pk}/snapshots/").json()["count"] == 2
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert download["ETag"] == f'"{body["sha256"]}"'
    content = streamed(download)
    assert len(content.splitlines()) == 2
    page = client.get(f"/api/projects/{judged.pk}/snapshots/?page=2")
    assert page.status_code == 404  # one page only


def test_an_export_job_is_queued_then_downloaded(
    judged, admin_user, django_capture_on_commit_callbacks, settings
):
    from apps.exports.tasks import run_export

    client = api_for(admin_user)
    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(
            f"/api/projects/{judged.pk}/exports/",
            {"kind": "pairs", "format": "parquet"},
            format="json",
        )
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    assert len(queued) == 1
    job_url = f"/api/exports/{answer.json()['id']}/"
    assert client.get(f"{job_url}download/").status_code == 409

    run_export.apply(args=[answer.json()["id"]])

    job = client.get(job_url).json()
    assert job["status"] == "succeeded" and job["snapshot"]["row_count"] == 2
    assert client.get(job["download_url"]).status_code == 200
    listed = client.get(f"/api/projects/{judged.pk}/exports/?status=succeeded&file_format=parquet")
    assert listed.json()["count"] == 1
    assert Snapshot.objects.count() == 1


def test_the_export_kinds_follow_the_project_kind(judged, admin_user):
    kinds = api_for(admin_user).get(f"/api/projects/{judged.pk}/exports/kinds/").json()
    assert [k["kind"] for k in kinds] == ["pairs", "raw", "sft", "sft_messages", "edit_pairs"]


def test_the_schema_documents_the_dataset_api(admin_user):
    schema = api_for(admin_user).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/projects/{project_id}/snapshots/" in paths
    assert "/api/snapshots/{snapshot_id}/download/" in paths
    assert "/api/projects/{project_id}/dataset-imports/" in paths
    assert "/api/webhooks/{endpoint_id}/deliveries/" in paths
