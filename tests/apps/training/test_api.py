import pytest
from rest_framework.test import APIClient

from tests.factories import ProjectFactory, StaffFactory, add_member, api_token

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_admin_launches_and_reads_a_run_over_the_api(
    labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    client = api_for(labeled_project.created_by)
    with django_capture_on_commit_callbacks(execute=False):
        created = client.post(
            f"/api/projects/{labeled_project.pk}/runs/",
            {"objective": "reward_pairwise", "config": {"model": tiny_bert_ref}},
            format="json",
        )
    assert created.status_code == 201, created.data
    assert created.data["status"] == "queued" and len(created.data["snapshot_sha256"]) == 64
    assert client.get(f"/api/runs/{created.data['id']}/").data["objective"] == "reward_pairwise"
    assert client.post(f"/api/runs/{created.data['id']}/cancel/").data["status"] == "cancelled"


def test_bad_launch_is_a_400_with_the_reason(labeled_project):
    answer = api_for(labeled_project.created_by).post(
        f"/api/projects/{labeled_project.pk}/runs/", {"objective": "reward_listwise"}, format="json"
    )
    assert answer.status_code == 400 and "listwise data" in answer.data["detail"]


def test_annotators_and_strangers_get_404(labeled_project):
    annotator = add_member(labeled_project)
    stranger_project = ProjectFactory(created_by=StaffFactory())
    assert api_for(annotator).get(f"/api/projects/{labeled_project.pk}/runs/").status_code == 404
    assert (
        api_for(stranger_project.created_by)
        .get(f"/api/projects/{labeled_project.pk}/runs/")
        .status_code
        == 404
    )
