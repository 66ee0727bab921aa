"""The judges' pages: set a judge up, edit its templates, run it; admins of the project only."""

import pytest
from django.urls import reverse

from apps.generation.models import ModelEndpoint
from apps.judges.models import Judge, JudgeJob
from apps.judges.services import judge_job_create
from apps.projects.models import FeedbackKind, Principle
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import endpoint_judge, member, run_all
from tests.factories import StaffFactory, make_task

pytestmark = pytest.mark.django_db


def test_an_admin_adds_an_endpoint_judge_whose_key_is_stored_encrypted(client, project):
    client.force_login(project.created_by)

    response = client.post(
        reverse("judges:list", args=[project.pk]),
        {
            "name": "gpt",
            "backend": "endpoint",
            "model": "judge-model",
            "base_url": "http://127.0.0.1:9/v1",
            "api_key": "sk-very-secret",
            "batch_size": "8",
        },
    )

    judge = Judge.objects.get(project=project, name="gpt")
    assert response.status_code == 302
    endpoint = ModelEndpoint.objects.get(project=project)
    assert judge.config == {"type": "openai", "model": "judge-model", "endpoint": endpoint.pk}
    assert endpoint.has_api_key and "sk-very-secret" not in endpoint.api_key_encrypted
    page = client.get(reverse("judges:detail", args=[judge.pk])).content.decode()
    assert "sk-very-secret" not in page and "http://127.0.0.1:9/v1" in page


def test_a_template_with_an_unknown_variable_is_refused_and_nothing_changes(client, project):
    with openai_server() as server:
        judge = endpoint_judge(project, server)
    client.force_login(project.created_by)

    response = client.post(
        reverse("judges:detail", args=[judge.pk]),
        {
            "batch_size": "8",
            "template_pairwise": "{{ response_a }} {{ response_b }} {{ settings.SECRET_KEY }}",
        },
    )

    assert response.status_code == 422
    assert "Unknown variable" in response.content.decode()
    judge.refresh_from_db()
    assert judge.templates == {} and judge.batch_size == 16


def test_running_a_judge_from_its_page_queues_a_job(
    client, project, django_capture_on_commit_callbacks
):
    make_task(project, texts=["one", "two"])
    with openai_server() as server:
        judge = endpoint_judge(project, server)
    client.force_login(project.created_by)

    with django_capture_on_commit_callbacks() as sent:
        response = client.post(reverse("judges:run", args=[judge.pk]), {"only_unjudged": "on"})

    job = JudgeJob.objects.get(judge=judge)
    assert response.headers["Location"] == reverse("judges:job", args=[job.pk])
    assert job.status == "queued" and job.total == 1 and len(sent) == 1


def test_an_annotator_and_another_projects_admin_get_404(client, project):
    with openai_server() as server:
        judge = endpoint_judge(project, server)
    for user in (member(project, "ann"), StaffFactory()):
        client.force_login(user)
        assert client.get(reverse("judges:detail", args=[judge.pk])).status_code == 404
        assert client.get(reverse("judges:list", args=[project.pk])).status_code == 404


def test_principle_verdicts_are_read_per_principle(project):
    project.kind = FeedbackKind.PRINCIPLES
    project.save()
    polite = Principle.objects.create(project=project, key="polite", text="Is polite")
    true = Principle.objects.create(project=project, key="true", text="Is accurate")
    task = make_task(project, n_responses=1)
    with openai_server() as server:
        server.responder = lambda body: f"{polite.pk}: yes\n{true.pk}: no"
        job = run_all(endpoint_judge(project, server))

    assert job.status == "succeeded", job.error
    (label,) = task.judge_labels.all()
    assert label.payload == {
        "verdicts": [
            {"response": 0, "principle": polite.pk, "verdict": "yes", "evidence": ""},
            {"response": 0, "principle": true.pk, "verdict": "no", "evidence": ""},
        ]
    }


def test_the_projects_jobs_page_lists_a_judge_job_with_a_link_to_it(client, project):
    make_task(project, texts=["one", "two"])
    with openai_server() as server:
        server.responder = lambda body: "tie"
        job = run_all(endpoint_judge(project, server))
    client.force_login(project.created_by)

    page = client.get(reverse("dashboard:jobs", args=[project.pk])).content.decode()

    assert "judge gpt-judge" in page
    assert reverse("judges:job", args=[job.pk]) in page


def test_cancel_from_the_job_page_ends_a_queued_job_and_resume_queues_it_again(client, project):
    make_task(project, texts=["one", "two"])
    with openai_server() as server:
        judge = endpoint_judge(project, server)
    job = judge_job_create(judge=judge, user=project.created_by)
    client.force_login(project.created_by)
    htmx = {"HTTP_HX_REQUEST": "true"}

    cancelled = client.post(reverse("judges:job-cancel", args=[job.pk]), **htmx)
    again = client.post(reverse("judges:job-cancel", args=[job.pk]), **htmx)
    resumed = client.post(reverse("judges:job-resume", args=[job.pk]), follow=True)

    assert b'data-status="cancelled"' in cancelled.content and b"Resume" in cancelled.content
    assert b"already cancelled" in again.content
    assert resumed.redirect_chain == [(reverse("judges:job", args=[job.pk]), 302)]
    assert "skips the tasks it already judged" in resumed.content.decode()
    job.refresh_from_db()
    assert job.status == "queued" and job.cancel_requested_at is None
