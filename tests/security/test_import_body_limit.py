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


# Each import API: its URL under the project, a body of about `size` bytes it takes, what it stores,
# and its view.
IMPORT_APIS = pytest.mark.parametrize(
    ("url", "body_of", "stored", "view"),
    [
        pytest.param("imports", jsonl_of, ImportJob, import_create_api, id="jsonl"),
        pytest.param(
            "dataset-imports", preferences_of, DatasetImport, dataset_import_list_api, id="trl"
        ),
    ],
)


def upload(project, user, url: str, body: bytes):
    client = APIClient()
    client.force_authenticate(user)
    file = SimpleUploadedFile("upload.jsonl", body)
    return client.post(f"/api/projects/{project.pk}/{url}/", {"file": file}, format="multipart")


@IMPORT_APIS
def test_an_import_api_refuses_a_body_over_the_limit_with_413_and_stores_nothing(
    limit, project, admin_user, tmp_path, settings, url, body_of, stored, view
):
    settings.MEDIA_ROOT = tmp_path
    answer = upload(project, admin_user, url, body_of(limit + 1))
    assert answer.status_code == 413
    body = answer.json()
    assert f"limited to {limit} bytes" in body["detail"] and body["limit_bytes"] == limit
    assert not stored.objects.exists()
    assert not any(tmp_path.rglob("*.jsonl")), "no upload was stored"


@IMPORT_APIS
def test_an_import_api_takes_a_body_under_the_limit(
    limit, project, admin_user, tmp_path, settings, url, body_of, stored, view
):
    settings.MEDIA_ROOT = tmp_path
    answer = upload(project, admin_user, url, body_of(limit // 4))
    assert answer.status_code == 202
    assert stored.objects.count() == 1


@IMPORT_APIS
def test_an_oversized_import_is_refused_without_being_read(
    limit, project, admin_user, url, body_of, stored, view
):
    body = body_of(limit * 4)
    stream = CountingStream(body)
    request = RequestFactory().generic(
        "POST",
        f"/api/projects/{project.pk}/{url}/",
        content_type="multipart/form-data; boundary=xyz",
    )
    request.META["CONTENT_LENGTH"] = str(len(body))
    request.META["wsgi.input"] = stream
    request._stream = stream
    request.user = admin_user
    answer = view(request, project_id=project.pk)
    assert answer.status_code == 413
    assert stream.bytes_read == 0
