"""The datasets page: admins export, freeze and import from the browser; others may not."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.exports.models import DatasetImport, Snapshot
from tests.apps.exports.helpers import judge
from tests.factories import PASSWORD, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user, project, annotator):
    judge(make_task(project), annotator, {"choice": "A", "strength": "much"})
    client.login(username=admin_user.username, password=PASSWORD)
    return client


def test_the_page_freezes_a_snapshot_and_lists_it(admin_client, project):
    url = f"/projects/{project.pk}/datasets/"
    assert admin_client.get(url).status_code == 200

    answer = admin_client.post(
        url, {"kind": "pairs", "format": "jsonl", "form": "standard", "aggregate": "none"}
    )

    assert answer.status_code == 302
    snapshot = Snapshot.objects.get()
    page = admin_client.get(url).content.decode()
    assert snapshot.sha256[:12] in page and f"/api/snapshots/{snapshot.pk}/download/" in page


def test_download_now_goes_on_to_the_streaming_api(admin_client, project):
    answer = admin_client.post(
        f"/projects/{project.pk}/datasets/download/",
        {"kind": "pairs", "format": "jsonl", "form": "conversational", "aggregate": "majority"},
    )

    assert answer.status_code == 302
    assert answer["Location"].startswith(f"/api/projects/{project.pk}/exports/pairs.jsonl?")
    streamed = admin_client.get(answer["Location"])
    assert streamed.status_code == 200 and b'"role":"assistant"' in b"".join(
        streamed.streaming_content
    )


def test_a_bad_choice_is_shown_not_exported(admin_client, project):
    answer = admin_client.post(
        f"/projects/{project.pk}/datasets/", {"kind": "listwise", "format": "jsonl"}
    )
    assert answer.status_code == 400 and not Snapshot.objects.exists()


def test_an_upload_goes_to_its_import_page(
    admin_client, project, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("p.jsonl", b'{"prompt": "p", "chosen": "a", "rejected": "b"}')
    with django_capture_on_commit_callbacks():
        answer = admin_client.post(f"/projects/{project.pk}/datasets/import/", {"file": upload})

    job = DatasetImport.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/dataset-imports/{job.pk}/"
    page = admin_client.get(answer["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in page and "Queued" in page


def test_annotators_may_not_open_the_datasets_page(client, project, annotator):
    client.login(username=annotator.username, password=PASSWORD)
    assert client.get(f"/projects/{project.pk}/datasets/").status_code == 403
