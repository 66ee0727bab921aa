"""The export and dataset-import paths through the real broker and a real worker process."""

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.projects.models import Membership, Role
from tests.factories import ProjectFactory, StaffFactory, api_token

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(client, url, deadline_s=90):
    deadline = time.monotonic() + deadline_s
    while (job := client.get(url).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"the worker did not finish: {job}"
        time.sleep(0.3)
    return job


def test_an_imported_dataset_is_exported_by_a_real_worker(start_worker, settings, tmp_path):
    # One MEDIA_ROOT for this process (uploads) and the worker (reads them, writes snapshots).
    settings.MEDIA_ROOT = tmp_path / "media"
    start_worker("default", ARBITER_STORAGE_ROOT=str(settings.MEDIA_ROOT))
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(admin)}")
    rows = [
        {"prompt": f"Q{i}?", "chosen": f"good {i}", "rejected": f"bad {i}", "margin": 2}
        for i in range(40)
    ]
    upload = SimpleUploadedFile("prefs.jsonl", "\n".join(map(json.dumps, rows)).encode())

    answer = client.post(
        f"/api/projects/{project.pk}/dataset-imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 202, answer.content
    job = wait_for(client, f"/api/dataset-imports/{answer.json()['id']}/")
    assert job["status"] == "succeeded" and job["judgments_created"] == 40, job

    answer = client.post(f"/api/projects/{project.pk}/exports/", {"kind": "pairs"}, format="json")
    assert answer.status_code == 202
    job = wait_for(client, f"/api/exports/{answer.json()['id']}/")
    assert job["status"] == "succeeded", job
    assert job["snapshot"]["row_count"] == 40
