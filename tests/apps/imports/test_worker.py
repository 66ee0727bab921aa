"""The import path through the real broker and a real worker process."""

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.labeling.models import Task
from apps.projects.models import Membership, Role
from tests.factories import ProjectFactory, StaffFactory, api_token

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_uploaded_file_is_imported_by_a_real_worker(celery_worker_process):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(admin)}")
    rows = [
        {"prompt": f"Question {i}?", "responses": [f"yes {i}", f"no {i}", f"maybe {i}"]}
        for i in range(50)
    ]
    upload = SimpleUploadedFile("rows.jsonl", "\n".join(map(json.dumps, rows)).encode())

    answer = client.post(
        f"/api/projects/{project.pk}/imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 202, answer.content

    deadline = time.monotonic() + 90
    while (job := client.get(f"/api/imports/{answer.data['id']}/").data)["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, f"the worker did not finish the import: {job}"
        time.sleep(0.3)
    assert job["status"] == "succeeded", job
    assert job["percent"] == 100
    assert Task.objects.filter(project=project).count() == 150
