"""Snapshots: frozen, content-hashed, byte for byte the same for the same data and options."""

import hashlib

import pytest
from django.core.management import call_command

from apps.core.errors import ApplicationError
from apps.core.jobs import JobStatus
from apps.exports.models import Snapshot
from apps.exports.selectors import snapshot_open, snapshot_path
from apps.exports.services import export_job_create, export_job_run, snapshot_create
from tests.apps.exports.helpers import judge, load_hf
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(project):
    annotators = [add_member(project, UserFactory()) for _ in range(2)]
    for i in range(6):
        task = make_task(project)
        task.prompt.messages = [{"role": "user", "content": f"Ünïcode prompt {i} ✓"}]
        task.prompt.save()
        for annotator in annotators:
            judge(task, annotator, {"choice": "AB"[i % 2], "strength": "clearly"})
    return project


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_the_same_snapshot_taken_twice_is_byte_identical(judged, admin_user, fmt):
    options = {"format": fmt, "aggregate": "bradley_terry", "split": 0.5, "split_seed": 3}

    first = snapshot_create(project=judged, kind="pairs", options=options, user=admin_user)
    second = snapshot_create(project=judged, kind="pairs", options=options, user=admin_user)

    with snapshot_open(snapshot=first) as a, snapshot_open(snapshot=second) as b:
        first_bytes, second_bytes = a.read(), b.read()
    assert first_bytes == second_bytes
    assert first.sha256 == second.sha256 == hashlib.sha256(first_bytes).hexdigest()
    assert first.pk != second.pk and first.file_path == second.file_path
    assert first.row_count == 6 and first.row_counts["train"] + first.row_counts["test"] == 6
    assert first.options == {
        "format": fmt,
        "form": "standard",
        "aggregate": "bradley_terry",
        "split": 0.5,
        "split_seed": 3,
        "subset": "all",
    }
    assert first.columns[:4] == ["prompt", "chosen", "rejected", "margin"]
    assert len(load_hf(snapshot_path(snapshot=first))) == 6


def test_new_data_makes_a_new_hash_and_old_snapshots_keep_their_bytes(judged, admin_user):
    before = snapshot_create(project=judged, kind="raw", options={}, user=admin_user)
    judge(make_task(judged), admin_user, {"choice": "A", "strength": "much"})

    after = snapshot_create(project=judged, kind="raw", options={}, user=admin_user)

    assert after.sha256 != before.sha256 and after.row_count == before.row_count + 1
    with snapshot_open(snapshot=before, verify=True) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == before.sha256


def test_a_tampered_snapshot_file_is_refused_when_verified(judged, admin_user):
    snapshot = snapshot_create(project=judged, kind="pairs", options={}, user=admin_user)
    snapshot_path(snapshot=snapshot).write_bytes(b"{}\n")

    with pytest.raises(ApplicationError, match="does not match"):
        snapshot_open(snapshot=snapshot, verify=True)


def test_an_export_job_writes_a_snapshot_and_running_it_again_changes_nothing(
    judged, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        job = export_job_create(
            project=judged, kind="pairs", options={"format": "parquet"}, user=admin_user
        )
    assert len(queued) == 1, "the worker is asked once the job is committed"

    job = export_job_run(job_id=job.pk, worker="w1")
    again = export_job_run(job_id=job.pk, worker="w2")

    assert job.status == JobStatus.SUCCEEDED and job.rows_written == 12
    assert (again.status, again.attempts, again.worker) == (JobStatus.SUCCEEDED, 1, "w1")
    assert again.snapshot_id == job.snapshot_id
    assert Snapshot.objects.count() == 1


def test_the_command_writes_train_and_test_files_that_share_no_prompt(judged, tmp_path):
    out = tmp_path / "pairs.jsonl"

    call_command(
        "export_dataset",
        "--project",
        str(judged.pk),
        "--kind",
        "pairs",
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--split",
        "0.5",
        "--aggregate",
        "majority",
    )

    train = load_hf(tmp_path / "pairs.train.jsonl")
    test = load_hf(tmp_path / "pairs.test.jsonl")
    assert len(train) + len(test) == 6
    assert not set(train["prompt_id"]) & set(test["prompt_id"])
    assert set(train["split"]) <= {"train"} and set(test["split"]) <= {"test"}
