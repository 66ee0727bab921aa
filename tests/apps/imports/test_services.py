import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.jobs import JobStatus
from apps.corpus.models import Prompt
from apps.imports.services import import_job_create, import_job_run
from apps.labeling.models import Task

pytestmark = pytest.mark.django_db


def jsonl(*rows) -> bytes:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


def run(project, user, content: bytes, **options):
    upload = SimpleUploadedFile("data.jsonl", content, content_type="application/jsonl")
    job = import_job_create(project=project, user=user, upload=upload, **options)
    return import_job_run(job_id=job.pk)


def test_good_file_creates_prompts_responses_and_all_pairs(project, admin_user):
    job = run(
        project,
        admin_user,
        jsonl(
            {
                "prompt": "Capital of France?",
                "responses": ["Paris.", "Lyon.", {"text": "Marseille.", "model": "m3"}],
            },
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "2+2?"},
                ],
                "responses": ["4", "5"],
                "id": "q2",
            },
        ),
        pair_strategy="all",
    )
    assert job.status == JobStatus.SUCCEEDED
    assert (job.prompts_created, job.responses_created, job.tasks_created) == (2, 5, 4)
    assert Prompt.objects.get(external_id="q2").is_multi_turn
    assert Task.objects.filter(project=project).count() == 4
    assert set(Task.objects.first().items.values_list("position", flat=True)) == {0, 1}


def test_sampled_pairs_stay_within_the_limit_per_prompt(project, admin_user):
    responses = [f"answer {i}" for i in range(6)]  # 15 possible pairs
    job = run(
        project,
        admin_user,
        jsonl({"prompt": "p", "responses": responses}),
        pair_strategy="sampled",
        max_pairs_per_prompt=4,
    )
    assert job.tasks_created == 4


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(project, admin_user):
    job = run(
        project,
        admin_user,
        jsonl(
            {"prompt": "fine", "responses": ["a", "b"]},
            "{not json",
            {"prompt": "only one", "responses": ["a"]},
            "",
            {"responses": ["a", "b"]},
            {"prompt": "dupes", "responses": ["same", "same"]},
        ),
    )
    assert job.status == JobStatus.FAILED
    assert [e["line"] for e in job.errors] == [2, 3, 5, 6]
    reasons = " | ".join(e["error"] for e in job.errors)
    assert "not valid JSON" in reasons
    assert "at least 2 responses" in reasons
    assert 'non-empty "prompt"' in reasons
    assert "same text" in reasons
    assert not Prompt.objects.exists() and not Task.objects.exists()


def test_running_a_finished_import_again_changes_nothing(project, admin_user):
    job = run(project, admin_user, jsonl({"prompt": "p", "responses": ["a", "b"]}))
    import_job_run(job_id=job.pk)
    assert Task.objects.count() == 1


def test_import_is_enqueued_only_after_the_job_commits(
    project, admin_user, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("d.jsonl", jsonl({"prompt": "p", "responses": ["a", "b"]}))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_job_create(project=project, user=admin_user, upload=upload)
    assert len(callbacks) == 1


def test_non_utf8_file_fails_with_a_reason(project, admin_user):
    job = run(project, admin_user, b"\xff\xfe\x00garbage")
    assert job.status == JobStatus.FAILED
    assert "UTF-8" in job.errors[0]["error"]


def test_prompts_without_responses_are_kept_for_generation_and_make_no_tasks(project, admin_user):
    job = run(
        project,
        admin_user,
        jsonl({"prompt": "Write a haiku about rain."}, {"prompt": "p", "responses": ["a", "b"]}),
    )
    assert job.status == JobStatus.SUCCEEDED
    assert (job.prompts_created, job.tasks_created) == (2, 1)
