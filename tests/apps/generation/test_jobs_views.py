"""The admin pages: start a job, follow its progress (htmx polling), cancel and resume it."""

import pytest
from django.urls import include, path

from apps.core.jobs import JobStatus
from apps.generation.consequences import DEFAULT_TEMPLATE
from apps.generation.models import GenerationJob, JobKind, ModelEndpoint
from apps.generation.services import generation_job_run
from apps.projects.models import FeedbackKind, Membership, Role
from config import urls as site_urls
from tests.apps.generation.openai_server import Step, completion, openai_server
from tests.factories import PASSWORD, ProjectFactory, PromptFactory, make_task

# The site's URLs with this app's, until config/urls.py includes them.
urlpatterns = list(site_urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "generation" for p in urlpatterns):
    urlpatterns.append(path("", include("apps.generation.urls")))

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, admin_user):
    client.login(username=admin_user.username, password=PASSWORD)
    return client


def test_an_admin_starts_a_job_from_the_form_and_follows_it_to_the_end(admin_client, project):
    PromptFactory(project=project)
    page = admin_client.get(f"/projects/{project.pk}/generation/new/")
    assert page.status_code == 200
    assert b"Start generating" in page.content and b"Server URL" in page.content

    with openai_server(Step(body=completion("One.", "Two."))) as server:
        answer = admin_client.post(
            f"/projects/{project.pk}/generation/new/",
            {
                "openai_base_url": server.base_url,
                "openai_models": "alpha",
                "openai_api_key": "sk-secret",
                "n_per_prompt": 2,
                "temperature": 0.9,
                "top_p": 0.95,
                "max_tokens": 32,
                "batch_size": 4,
                "selection": "all",
                "pairing": "all",
                "pair_strategy": "all",
            },
        )
        job = GenerationJob.objects.get()
        assert answer.status_code == 302 and answer["Location"] == f"/generation/{job.pk}/"
        assert (job.n_per_prompt, job.temperature, job.top_p, job.max_tokens) == (2, 0.9, 0.95, 32)
        # The job names the project's endpoint; the key lives there, encrypted.
        endpoint = ModelEndpoint.objects.get(project=project)
        assert job.backends[0]["config"] == {
            "type": "openai",
            "endpoint": endpoint.pk,
            "model": "alpha",
        }
        assert "sk-secret" not in str(job.backends) and "sk-secret" not in str(
            ModelEndpoint.objects.values_list("api_key_encrypted", flat=True).get()
        )

        running = admin_client.get(f"/generation/{job.pk}/", **HTMX)
        assert b'hx-trigger="every 1s"' in running.content
        assert b"Cancel job" in running.content
        generation_job_run(job_id=job.pk, worker="inline")
    # The worker decrypted the key when it called.
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-secret"

    finished = admin_client.get(f"/generation/{job.pk}/", **HTMX)
    assert b"hx-trigger" not in finished.content
    assert b'data-status="succeeded"' in finished.content
    assert b"2 responses and 1 task written" in finished.content
    detail = admin_client.get(f"/generation/{job.pk}/")
    assert b"alpha" in detail.content and b"sk-secret" not in detail.content
    listing = admin_client.get(f"/projects/{project.pk}/generation/")
    assert f"#{job.pk} Generate responses".encode() in listing.content


def test_the_form_shows_why_a_job_cannot_start(admin_client, project):
    answer = admin_client.post(
        f"/projects/{project.pk}/generation/new/",
        {
            "local_models": "/no/such/model",
            "n_per_prompt": 2,
            "temperature": 0.7,
            "top_p": 1,
            "max_tokens": 16,
            "batch_size": 8,
            "selection": "all",
            "pairing": "all",
        },
    )
    assert answer.status_code == 422
    assert b"/no/such/model is not one of the available choices" in answer.content
    assert not GenerationJob.objects.exists()


def test_cancel_from_the_page_stops_a_queued_job_at_once(admin_client, project):
    PromptFactory(project=project)
    job = GenerationJob.objects.create(
        project=project, created_by=project.created_by, total=1, item_ids=[1]
    )
    answer = admin_client.post(f"/generation/{job.pk}/cancel/", **HTMX)
    assert answer.status_code == 200
    assert b'data-status="cancelled"' in answer.content and b"Resume" in answer.content
    again = admin_client.post(f"/generation/{job.pk}/cancel/", **HTMX)
    assert b"already cancelled" in again.content

    resumed = admin_client.post(f"/generation/{job.pk}/resume/")
    assert resumed.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.cancel_requested_at is None


def test_a_running_job_shows_that_it_is_stopping_after_cancel(admin_client, project):
    job = GenerationJob.objects.create(
        project=project, created_by=project.created_by, status=JobStatus.RUNNING, total=4
    )
    answer = admin_client.post(f"/generation/{job.pk}/cancel/", **HTMX)
    assert b"stopping after this batch" in answer.content
    assert b"Cancel job" not in answer.content


def test_the_consequence_form_offers_the_default_template(admin_client, admin_user):
    project = ProjectFactory(kind=FeedbackKind.HINDSIGHT, created_by=admin_user)
    Membership.objects.create(project=project, user=admin_user, role=Role.ADMIN)
    make_task(project, n_responses=1)
    page = admin_client.get(f"/projects/{project.pk}/generation/consequences/new/")
    assert "{prompt}" in page.content.decode() and b"Start simulating" in page.content

    answer = admin_client.post(
        f"/projects/{project.pk}/generation/consequences/new/",
        {
            "openai_base_url": "http://127.0.0.1:9/v1",
            "openai_models": "sim",
            "template": DEFAULT_TEMPLATE,
            "target": "responses",
            "selection": "without_consequence",
            "temperature": 0.7,
            "top_p": 1,
            "max_tokens": 200,
            "batch_size": 8,
        },
    )
    job = GenerationJob.objects.get()
    assert answer.status_code == 302 and job.kind == JobKind.CONSEQUENCES
    assert job.template == DEFAULT_TEMPLATE.strip() and job.total == 1


def test_the_consequence_form_wants_exactly_one_model(admin_client, admin_user):
    project = ProjectFactory(kind=FeedbackKind.HINDSIGHT, created_by=admin_user)
    Membership.objects.create(project=project, user=admin_user, role=Role.ADMIN)
    answer = admin_client.post(
        f"/projects/{project.pk}/generation/consequences/new/",
        {
            "openai_base_url": "http://127.0.0.1:9/v1",
            "openai_models": "a, b",
            "template": DEFAULT_TEMPLATE,
            "target": "responses",
            "selection": "without_consequence",
            "temperature": 0.7,
            "top_p": 1,
            "max_tokens": 200,
            "batch_size": 8,
        },
    )
    assert b"exactly one model" in answer.content


def test_annotators_and_strangers_never_see_generation_pages(client, project, annotator):
    job = GenerationJob.objects.create(project=project, created_by=project.created_by)
    client.login(username=annotator.username, password=PASSWORD)
    for url in (
        f"/projects/{project.pk}/generation/",
        f"/projects/{project.pk}/generation/new/",
        f"/generation/{job.pk}/",
    ):
        assert client.get(url).status_code == 404
    assert client.post(f"/generation/{job.pk}/cancel/").status_code == 404
