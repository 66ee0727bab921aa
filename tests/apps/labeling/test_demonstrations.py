"""The demonstration kind end to end on the server side: prompts imported alone become one task
each, the API serves and takes written answers, a rewrite goes through the API too, and every
page of a demonstration project renders."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.errors import ApplicationError
from apps.core.jobs import JobStatus
from apps.feedback.models import Judgment
from apps.generation.services import generation_job_create
from apps.imports.services import import_job_create, import_job_run
from apps.labeling.models import Assignment, Task
from apps.projects.models import FeedbackKind
from tests.factories import UserFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def demonstration(project):
    project.kind = FeedbackKind.DEMONSTRATION
    project.save()
    return project


def _import(project, user, *rows):
    content = "\n".join(json.dumps(row) for row in rows).encode()
    upload = SimpleUploadedFile("data.jsonl", content, content_type="application/jsonl")
    job = import_job_create(project=project, user=user, upload=upload)
    return import_job_run(job_id=job.pk)


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user, scope='label')}")
    return client


def test_imported_prompts_become_one_task_each_with_no_responses(demonstration, admin_user):
    job = _import(
        demonstration,
        admin_user,
        {"prompt": "Explain tides."},
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hey"},
                {"role": "user", "content": "Write a haiku."},
            ]
        },
    )

    assert job.status == JobStatus.SUCCEEDED
    assert (job.prompts_created, job.responses_created, job.tasks_created) == (2, 0, 2)
    assert all(not task.items.exists() for task in Task.objects.filter(project=demonstration))


def test_a_demonstration_import_with_responses_is_refused_on_its_line(demonstration, admin_user):
    job = _import(
        demonstration,
        admin_user,
        {"prompt": "Explain tides."},
        {"prompt": "Explain waves.", "responses": ["Wind."]},
    )

    assert job.status == JobStatus.FAILED
    assert [error["line"] for error in job.errors] == [2]
    assert "prompts only" in job.errors[0]["error"]
    assert not Task.objects.filter(project=demonstration).exists()


def test_the_api_serves_a_prompt_and_takes_the_written_answer(demonstration):
    make_task(demonstration, n_responses=0)
    annotator = add_member(demonstration, UserFactory())
    client = _api(annotator)

    lease = client.post(f"/api/projects/{demonstration.pk}/tasks/next/").json()
    assert lease["kind"] == "demonstration" and lease["responses"] == []
    answer = client.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {"payload": {}, "written_response": "The moon pulls the sea."},
        format="json",
    )

    assert answer.status_code == 201, answer.content
    assert answer.json()["written_response"] == "The moon pulls the sea."
    assert answer.json()["edited_response"] is None


def test_the_api_takes_a_rewrite_of_the_chosen_response(project):
    project.allow_rewrite = True
    project.save()
    task = make_task(project, texts=["Tides come from wind.", "Tides come from the moon."])
    annotator = add_member(project, UserFactory())
    client = _api(annotator)
    lease = client.post(f"/api/projects/{project.pk}/tasks/next/").json()

    answer = client.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {
            "payload": {"choice": "B", "strength": "much"},
            "written_response": "Tides come from the moon and the sun.",
            "edited_position": 1,
        },
        format="json",
    )

    assert answer.status_code == 201, answer.content
    assert answer.json()["edited_response"] == task.items.get(position=1).response_id
    # "moon." became "moon" and "and the sun." was added: 4 word edits over 8 words
    assert answer.json()["edit_distance"] == pytest.approx(4 / 8)
    refused = client.post(
        f"/api/assignments/{lease['assignment']}/judgment/",
        {"payload": {"choice": "B", "strength": "much"}, "written_response": "x"},
        format="json",
    )
    assert refused.status_code == 200  # already stored: the first answer stands
    assert Judgment.objects.get().written_response == "Tides come from the moon and the sun."


def test_a_demonstration_project_takes_no_generation_job(demonstration, admin_user):
    with pytest.raises(ApplicationError, match="annotators write the responses"):
        generation_job_create(project=demonstration, user=admin_user, backends=[])


@pytest.mark.parametrize(
    "name",
    [
        "projects:detail",
        "projects:settings",
        "dashboard:overview",
        "dashboard:judgments",
        "quality:table",
        "exports:home",
        "training:list",
        "labeling:label",
    ],
)
def test_every_page_of_a_demonstration_project_renders(client, demonstration, admin_user, name):
    task = make_task(demonstration, n_responses=0)
    Judgment.objects.create(
        project=demonstration,
        task=task,
        annotator=admin_user,
        kind="demonstration",
        payload={},
        written_response="An **answer**.",
    )
    client.force_login(admin_user)

    page = client.get(reverse(name, args=[demonstration.pk]))

    assert page.status_code == 200


def test_the_task_review_shows_the_written_answer_as_sanitized_markdown(
    client, demonstration, admin_user
):
    task = make_task(demonstration, n_responses=0)
    Judgment.objects.create(
        project=demonstration,
        task=task,
        annotator=admin_user,
        kind="demonstration",
        payload={},
        written_response="An **answer**.<script>alert(1)</script>",
    )
    client.force_login(admin_user)

    page = client.get(reverse("quality:task", args=[demonstration.pk, task.pk])).content.decode()

    assert "<strong>answer</strong>" in page
    assert "<script>alert(1)" not in page


def test_without_javascript_the_form_stores_a_rewrite(client, project):
    project.allow_rewrite = True
    project.save()
    make_task(project, texts=["Tides come from wind.", "Tides come from the moon."])
    annotator = add_member(project, UserFactory())
    client.force_login(annotator)
    page = client.get(reverse("labeling:label", args=[project.pk])).content.decode()
    assert 'name="written_response"' in page and 'name="edited_position"' in page
    assert 'id="rewrite-originals"' in page  # the originals, for the script, as JSON
    assignment = Assignment.objects.get(annotator=annotator)

    answer = client.post(
        reverse("labeling:submit", args=[project.pk, assignment.pk]),
        {
            "choice": "B",
            "strength": "clearly",
            "written_response": "Tides come from the moon's pull.",
            "edited_position": "1",
        },
    )

    assert answer.status_code == 302
    judgment = Judgment.objects.get()
    assert judgment.written_response == "Tides come from the moon's pull."
    assert judgment.edited_response.text == "Tides come from the moon."
