"""Exports outside a test transaction: on PostgreSQL they run in one read-only REPEATABLE READ
transaction with a streaming (not WITH HOLD) cursor; on SQLite they take no lock."""

import json

import pytest

from apps.exports.files import jsonl_stream
from apps.exports.options import parse_export_options
from apps.exports.services import snapshot_create
from apps.projects.models import Membership, Role
from tests.apps.exports.helpers import judge
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_streams_and_snapshots_work_outside_a_transaction(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    annotator = add_member(project)
    for _ in range(30):
        judge(make_task(project), annotator, {"choice": "B", "strength": "slightly"})
    options = parse_export_options(kind="pairs", project_kind=project.kind, data={})

    streamed = b"".join(jsonl_stream(project=project, kind="pairs", options=options))
    snapshot = snapshot_create(project=project, kind="pairs", options={}, user=admin)

    rows = [json.loads(line) for line in streamed.splitlines()]
    assert len(rows) == 30 and rows[0]["margin"] == 2.0
    assert snapshot.row_count == 30
    assert (tmp_path / snapshot.file_path).read_bytes() == streamed
