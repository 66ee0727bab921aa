"""The JSONL and TRL dataset import APIs refuse a body over ARBITER_IMPORT_MAX_BYTES with 413, before reading
it, and stores nothing."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.exports.apis import dataset_import_list_api
from apps.exports.models import DatasetImport
from apps.imports.apis import import_create_api
from apps.imports.models import ImportJob

pytestmark = pytest.mark.django_db
LIMIT = 4096


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it was read."""

    bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def jsonl_of(size: int) -> bytes:
    line = json.dumps({"prompt": "p" * 50, "responses": ["a", "b"]}).encode() + b"\n"
    return line * (size // len(line) + 1)


def preferences_of(size: int) -> bytes:
    """TRL preference rows (the `project` fixture is pairwise)."""
    line = json.dumps({"prompt": "p" * 50, "chosen": "a", "rejected": "b"}).encode() + b"\n"
    return line * (size // len(line) + 1)


@pytest.fixture
def limit(settings):
    settings.ARBITER_IMPORT_MAX_BYTES = LIMIT
    return LIMIT


def test_import_api_refuses_a_body_over_the_limit_with_413_and_stores_nothing(
    limit, project, admin_user, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    client = APIClient()
    client.force_authenticate(admin_user)
    upload = SimpleUploadedFile("big.jsonl", jsonl_of(limit + 1))
    answer = client.post(
        f"/api/projects/{project.pk}/imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 413
    body = answer.json()
    assert f"limited to {limit} bytes" in body["detail"] and body["limit_bytes"] == limit
    assert not ImportJob.objects.exists()
    assert not any(tmp_path.rglob("*.jsonl")), "no upload was stored"


def test_import_api_takes_a_body_under_the_limit(limit, project, admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    client = APIClient()
    client.force_authenticate(admin_user)
    upload = SimpleUploadedFile("small.jsonl", jsonl_of(limit // 4))
    answer = client.post(
        f"/api/projects/{project.pk}/imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 202
    assert ImportJob.objects.count() == 1


def test_oversized_body_is_refused_without_being_read(limit, project, admin_user):
    body = jsonl_of(limit * 4)
    stream = CountingStream(body)
    request = RequestFactory().generic(
        "POST",
        f"/api/projects/{project.pk}/imports/",
        content_type="multipart/form-data; boundary=xyz",
    )
    request.META["CONTENT_LENGTH"] = str(len(body))
    request.META["wsgi.input"] = stream
    request._stream = stream
    request.user = admin_user
    answer = import_create_api(request, project_id=project.pk)
    assert answer.status_code == 413
    assert stream.bytes_read == 0


def test_dataset_import_api_refuses_a_body_over_the_limit_with_413_and_stores_nothing(
    limit, project, admin_user, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    client = APIClient()
    client.force_authenticate(admin_user)
    upload = SimpleUploadedFile("big.jsonl", preferences_of(limit + 1))
    answer = client.post(
        f"/api/projects/{project.pk}/dataset-imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 413
    body = answer.json()
    assert f"limited to {limit} bytes" in body["detail"] and body["limit_bytes"] == limit
    assert not DatasetImport.objects.exists()
    assert not any(tmp_path.rglob("*.jsonl")), "no upload was stored"


def test_dataset_import_api_takes_a_body_under_the_limit(
    limit, project, admin_user, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    client = APIClient()
    client.force_authenticate(admin_user)
    upload = SimpleUploadedFile("small.jsonl", preferences_of(limit // 4))
    answer = client.post(
        f"/api/projects/{project.pk}/dataset-imports/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == 202
    assert DatasetImport.objects.count() == 1


def test_oversized_dataset_import_is_refused_without_being_read(limit, project, admin_user):
    body = preferences_of(limit * 4)
    stream = CountingStream(body)
    request = RequestFactory().generic(
        "POST",
        f"/api/projects/{project.pk}/dataset-imports/",
        content_type="multipart/form-data; boundary=xyz",
    )
    request.META["CONTENT_LENGTH"] = str(len(body))
    request.META["wsgi.input"] = stream
    request._stream = stream
    request.user = admin_user
    answer = dataset_import_list_api(request, project_id=project.pk)
    assert answer.status_code == 413
    assert stream.bytes_read == 0
