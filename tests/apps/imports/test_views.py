"""The import pages: one status template for both kinds, following the job until it ends."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.jobs import job_cancel
from apps.exports.importing import dataset_import_create, dataset_import_run
from apps.imports.models import ImportJob
from apps.imports.services import import_job_create, import_job_run
from tests.factories import PASSWORD, ProjectFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quiet_heartbeat(settings):
    settings.ARBITER_JOB_HEARTBEAT_SECONDS = 3600


@pytest.fixture
def admin_client(client, admin_user):
    client.login(username=admin_user.username, password=PASSWORD)
    return client


def make_import(project, user, content: bytes) -> ImportJob:
    upload = SimpleUploadedFile("rows.jsonl", content)
    return import_job_create(project=project, user=user, upload=upload)


def test_a_queued_import_is_followed_by_htmx_until_it_ends(admin_client, project, admin_user):
    job = make_import(project, admin_user, b'{"prompt": "p", "responses": ["a", "b"]}')
    url = f"/imports/{job.pk}/"

    queued = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    import_job_run(job_id=job.pk)
    done = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert f'hx-get="{url}"' in queued and "Queued" in queued
    assert "hx-get" not in done and 'data-status="succeeded"' in done
    assert "1 prompts, 2 responses, 1 tasks (all pairs)" in done


def test_line_errors_are_listed_and_a_reason_without_lines_is_shown(
    admin_client, project, admin_user
):
    bad = make_import(project, admin_user, b'{"prompt": "p", "responses": ["a", "b"]}\n{oops')
    import_job_run(job_id=bad.pk)
    gone = make_import(project, admin_user, b'{"prompt": "p", "responses": ["a", "b"]}')
    gone.file.storage.delete(gone.file.name)
    import_job_run(job_id=gone.pk)

    listed = admin_client.get(f"/imports/{bad.pk}/").content.decode()
    reason = admin_client.get(f"/imports/{gone.pk}/").content.decode()

    assert "Nothing imported" in listed and "<td>2</td><td>not valid JSON" in listed
    assert "Nothing was imported: The import stopped (FileNotFoundError" in reason


def test_a_cancelled_import_says_so(admin_client, project, admin_user):
    job = make_import(project, admin_user, b'{"prompt": "p", "responses": ["a", "b"]}')
    job_cancel(ImportJob, job.pk)

    page = admin_client.get(f"/imports/{job.pk}/").content.decode()

    assert "Cancelled; nothing was imported." in page


def test_a_dataset_import_uses_the_same_page_with_its_judgments_and_way_back(
    admin_client, project, admin_user
):
    upload = SimpleUploadedFile("p.jsonl", b'{"prompt": "p", "chosen": "a", "rejected": "b"}')
    job = dataset_import_create(project=project, user=admin_user, upload=upload)
    dataset_import_run(import_id=job.pk)

    page = admin_client.get(f"/dataset-imports/{job.pk}/").content.decode()

    assert "1 tasks, 1 judgments." in page
    assert f'href="/projects/{project.pk}/datasets/"' in page


def test_another_projects_import_is_not_found(client, admin_user):
    other_admin = StaffFactory()
    job = make_import(ProjectFactory(created_by=other_admin), other_admin, b'{"prompt": "p"}')
    client.login(username=admin_user.username, password=PASSWORD)

    assert client.get(f"/imports/{job.pk}/").status_code == 404


def test_an_upload_over_the_limit_is_refused_on_the_form_with_the_limit(
    admin_client, project, settings
):
    settings.ARBITER_IMPORT_MAX_BYTES = 10
    upload = SimpleUploadedFile("big.jsonl", b'{"prompt": "p", "responses": ["a", "b"]}')

    answer = admin_client.post(f"/projects/{project.pk}/imports/new/", {"file": upload})

    assert answer.status_code == 200 and not ImportJob.objects.exists()
    assert "imports are limited to 10 bytes" in answer.content.decode()
