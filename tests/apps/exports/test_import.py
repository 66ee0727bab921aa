"""Importing TRL-format datasets: all or nothing, line-numbered errors, and a round trip."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.core import jobs
from apps.core.jobs import JobStatus
from apps.corpus.models import Prompt, Response
from apps.exports.import_rows import RowError, parse_preference_row, parse_unpaired_row
from apps.exports.importing import dataset_import_create, dataset_import_run
from apps.exports.tasks import run_dataset_import
from apps.feedback.models import Judgment
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind
from apps.projects.services import project_update
from tests.apps.exports.helpers import export_rows, judge
from tests.factories import ProjectFactory, UserFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


def jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def run(project, user, content: bytes, name: str = "prefs.jsonl"):
    upload = SimpleUploadedFile(name, content, content_type="application/jsonl")
    job = dataset_import_create(project=project, user=user, upload=upload)
    return dataset_import_run(import_id=job.pk)


def test_preference_rows_become_tasks_with_imported_judgments(project, admin_user):
    job = run(
        project,
        admin_user,
        jsonl(
            {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon.", "margin": 3},
            {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Nice."},
            {
                "prompt": [{"role": "user", "content": "2+2?"}],
                "chosen": [{"role": "assistant", "content": "4"}],
                "rejected": [{"role": "assistant", "content": "5"}],
                "margin": 0.37,
            },
            {
                "chosen": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                ],
                "rejected": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Go away."},
                ],
            },
        ),
    )

    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert (job.prompts_created, job.responses_created, job.tasks_created) == (3, 7, 4)
    judgments = Judgment.objects.filter(project=project).order_by("task_id")
    assert {(j.source, j.source_name, j.annotator_id) for j in judgments} == {
        ("import", "prefs.jsonl", None)
    }
    assert Task.objects.filter(project=project, judgment_count=1).count() == 4
    rows, _ = export_rows(project, "pairs")
    assert [(r["prompt"], r["chosen"], r["rejected"], r["margin"]) for r in rows] == [
        ("Capital of France?", "Paris.", "Lyon.", 3.0),
        ("Capital of France?", "Paris.", "Nice.", None),  # no margin: strength unknown
        ("2+2?", "4", "5", None),
        ("Hi", "Hello!", "Go away.", None),
    ]
    assert Task.objects.get(pk=rows[2]["task_id"]).context["margin"] == 0.37


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(project, admin_user):
    job = run(
        project,
        admin_user,
        jsonl(
            {"prompt": "fine", "chosen": "a", "rejected": "b"},
            "{not json",
            {"prompt": "same", "chosen": "x", "rejected": "x"},
            "",
            {"prompt": "no rejected", "chosen": "a"},
            {"prompt": "bad margin", "chosen": "a", "rejected": "b", "margin": "big"},
            {"prompt": "two", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"},
        ),
    )

    assert job.status == JobStatus.FAILED
    assert [e["line"] for e in job.errors] == [2, 3, 5, 6, 7]
    reasons = " | ".join(e["error"] for e in job.errors)
    assert "not valid JSON" in reasons and "same text" in reasons and "margin" in reasons
    assert not Prompt.objects.filter(project=project).exists()
    assert not Response.objects.exists() and not Judgment.objects.exists()


def test_unpaired_rows_import_into_a_thumbs_project(admin_user):
    project = ProjectFactory(kind=FeedbackKind.THUMBS, created_by=admin_user)
    job = run(
        project,
        admin_user,
        jsonl(
            {"prompt": "Say hi", "completion": " Hi!", "label": True},
            {"prompt": "Say hi", "completion": " Go away.", "label": 0},
            {"prompt": "Say hi", "completion": " Hm.", "label": "yes"},
        ),
        name="kto.jsonl",
    )
    assert job.status == JobStatus.FAILED and job.errors == [
        {"line": 3, "error": '"label" must be true or false'}
    ]

    job = run(project, admin_user, jsonl({"prompt": "Say hi", "completion": " Hi!", "label": True}))
    rows, _ = export_rows(project, "unpaired")
    assert [(r["prompt"], r["completion"], r["label"]) for r in rows] == [("Say hi", " Hi!", True)]


def test_an_export_imported_into_another_project_exports_the_same_pairs(project, admin_user):
    annotator = add_member(project, UserFactory())
    for i, choice in enumerate("ABAB"):
        judge(
            make_task(project),
            annotator,
            {"choice": choice, "strength": ("much", "slightly")[i % 2]},
        )
    rows, _ = export_rows(project, "pairs")
    target = ProjectFactory(created_by=admin_user)
    content = jsonl(*({k: r[k] for k in ("prompt", "chosen", "rejected", "margin")} for r in rows))

    run(target, admin_user, content)

    again, _ = export_rows(target, "pairs")
    keys = ("prompt", "chosen", "rejected", "margin")
    assert [tuple(r[k] for k in keys) for r in again] == [tuple(r[k] for k in keys) for r in rows]


def test_other_project_kinds_refuse_trl_imports(admin_user):
    project = ProjectFactory(kind=FeedbackKind.LISTWISE, created_by=admin_user)
    upload = SimpleUploadedFile("x.jsonl", b'{"prompt": "p"}')
    with pytest.raises(Exception, match="pairwise projects"):
        dataset_import_create(project=project, user=admin_user, upload=upload)


def test_the_import_api_queues_and_reports(project, admin_user, django_capture_on_commit_callbacks):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(admin_user)}")
    upload = SimpleUploadedFile("p.jsonl", jsonl({"prompt": "p", "chosen": "a", "rejected": "b"}))

    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(
            f"/api/projects/{project.pk}/dataset-imports/", {"file": upload}, format="multipart"
        )
    assert len(queued) == 1
    run_dataset_import.apply(args=[answer.json()["id"]])  # what the worker runs

    assert answer.status_code == 202
    job = client.get(f"/api/dataset-imports/{answer.json()['id']}/").json()
    assert (job["status"], job["percent"], job["judgments_created"]) == ("succeeded", 100, 1)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"prompt": "", "chosen": "a", "rejected": "b"}, "empty"),
        (
            {"prompt": [{"role": "assistant", "content": "x"}], "chosen": "a", "rejected": "b"},
            "user",
        ),
        ({"chosen": "a", "rejected": "b"}, "prompt"),
        ({"prompt": "p", "chosen": "a", "rejected": "b", "margin": True}, "margin"),
    ],
)
def test_preference_row_errors_say_what_is_wrong(row, reason):
    with pytest.raises(RowError, match=reason):
        parse_preference_row(line=1, raw=json.dumps(row))


def test_unpaired_rows_need_all_three_columns():
    with pytest.raises(RowError, match='needs "label"'):
        parse_unpaired_row(line=1, raw='{"prompt": "p", "completion": "c"}')


def test_an_import_whose_project_changed_kind_after_the_check_fails_and_writes_nothing(
    project, admin_user, monkeypatch
):
    """The rows were checked as preferences; the project (still without tasks) became a thumbs
    project before they were written: the write, under the project's lock, refuses them."""
    upload = SimpleUploadedFile(
        "prefs.jsonl", jsonl({"prompt": "Q?", "chosen": "A", "rejected": "B"})
    )
    job = dataset_import_create(project=project, user=admin_user, upload=upload)

    def change_kind_once_checked(point: str) -> None:
        if point == "import.checked":
            project_update(project=project, kind=FeedbackKind.THUMBS)

    monkeypatch.setattr(jobs, "_crash_hook", change_kind_once_checked)
    job = dataset_import_run(import_id=job.pk)

    assert job.status == JobStatus.FAILED
    assert "feedback kind changed (to thumbs)" in job.error and "nothing was" in job.error
    assert not Task.objects.exists() and not Prompt.objects.exists()
    assert not Judgment.objects.exists()
