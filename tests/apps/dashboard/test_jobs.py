"""The jobs page: every job of a project, of every kind, with retry and cancel for its admins."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.jobs import JobStatus, job_kinds
from apps.exports.models import DatasetImport, ExportJob
from apps.generation.models import GenerationJob
from apps.imports.models import ImportJob
from apps.judges.models import Judge, JudgeBackend, JudgeJob
from apps.training.models import TrainingRun
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import ProjectFactory, add_member

pytestmark = pytest.mark.django_db


def make_job(label: str, project, user, **fields):
    """One job of the kind, with the least its model needs."""
    if label == "training.TrainingRun":
        return TrainingRun.objects.create(
            project=project,
            objective="reward_pairwise",
            family="reward",
            config={},
            created_by=user,
            **fields,
        )
    if label == "generation.GenerationJob":
        return GenerationJob.objects.create(project=project, created_by=user, **fields)
    if label == "exports.ExportJob":
        return ExportJob.objects.create(
            project=project, kind="pairs", format="jsonl", options={}, created_by=user, **fields
        )
    if label == "exports.DatasetImport":
        return DatasetImport.objects.create(
            project=project, created_by=user, file="x.jsonl", original_name="trl.jsonl", **fields
        )
    if label == "imports.ImportJob":
        return ImportJob.objects.create(
            project=project,
            created_by=user,
            file="x.jsonl",
            original_name="prompts.jsonl",
            pair_strategy="all",
            max_pairs_per_prompt=3,
            **fields,
        )
    if label == "webhooks.WebhookDelivery":
        endpoint = WebhookEndpoint.objects.filter(project=project).first()
        endpoint = endpoint or WebhookEndpoint.objects.create(
            project=project, url="https://hooks.example.com/in", events=["task.completed"]
        )
        return WebhookDelivery.objects.create(
            endpoint=endpoint, event="task.completed", payload={}, **fields
        )
    if label == "judges.JudgeJob":
        judge = Judge.objects.filter(project=project).first()
        judge = judge or Judge.objects.create(
            project=project, name="judge", backend=JudgeBackend.REWARD_MODEL, created_by=user
        )
        return JudgeJob.objects.create(project=project, judge=judge, created_by=user, **fields)
    raise AssertionError(f"the test has no recipe for {label}")


def kind_of(job) -> str:
    return job._meta.label_lower


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def jobs_url(project) -> str:
    return f"/projects/{project.pk}/jobs/"


def action_url(project, job, action: str) -> str:
    return f"/projects/{project.pk}/jobs/{kind_of(job)}/{job.pk}/{action}/"


def test_the_page_lists_the_projects_jobs_of_every_kind_and_no_other_projects(
    project, admin_user, admin_client
):
    labels = [kind.label for kind in job_kinds()]
    mine = [make_job(label, project, admin_user) for label in labels]
    other = ProjectFactory(created_by=admin_user)
    theirs = make_job("exports.ExportJob", other, admin_user)

    page = admin_client.get(jobs_url(project)).content.decode()

    for job in mine:
        assert f'data-kind="{kind_of(job)}" data-job="{job.pk}"' in page
    run = next(job for job in mine if isinstance(job, TrainingRun))
    assert f'href="/runs/{run.pk}/"' in page, "a job with a page of its own links to it"
    assert f'data-kind="exports.exportjob" data-job="{theirs.pk}"' not in page
    assert f"{len(mine)} jobs" in page
    assert set(labels) >= {
        "training.TrainingRun",
        "generation.GenerationJob",
        "exports.ExportJob",
        "exports.DatasetImport",
        "imports.ImportJob",
        "webhooks.WebhookDelivery",
    }, "every kind of job there is, on the page"


def test_the_list_costs_the_same_queries_for_one_job_or_many_of_each_kind(
    project, admin_user, admin_client
):
    labels = [kind.label for kind in job_kinds()]
    for label in labels:
        make_job(label, project, admin_user)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(jobs_url(project))
    for label in labels:
        for _ in range(3):
            make_job(label, project, admin_user)
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(jobs_url(project)).content.decode()
    assert f"{4 * len(labels)} jobs" in page
    assert len(many) == len(few)
    unions = [q["sql"] for q in many.captured_queries if "UNION ALL" in q["sql"]]
    assert len(unions) == 2, "one query counts, one reads the page"


def test_a_failed_job_is_retried_with_a_new_attempt_budget(
    project, admin_user, admin_client, django_capture_on_commit_callbacks
):
    job = make_job(
        "exports.ExportJob", project, admin_user, status=JobStatus.FAILED, attempts=3, error="boom"
    )

    with django_capture_on_commit_callbacks() as sent:
        answer = admin_client.post(action_url(project, job, "retry"))

    assert answer.status_code == 302 and answer["Location"] == jobs_url(project)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 0, "")
    assert len(sent) == 1, "its message goes to a worker on commit"
    assert "is queued again" in admin_client.get(jobs_url(project)).content.decode()


def test_cancel_stops_a_queued_job_at_once_and_asks_a_running_one_to_stop(
    project, admin_user, admin_client
):
    queued = make_job("webhooks.WebhookDelivery", project, admin_user)
    running = make_job(
        "imports.ImportJob", project, admin_user, status=JobStatus.RUNNING, attempts=1
    )

    admin_client.post(action_url(project, queued, "cancel"))
    admin_client.post(action_url(project, running, "cancel"))

    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    assert running.status == JobStatus.RUNNING and running.cancel_requested_at is not None


def test_a_succeeded_job_cannot_be_retried_or_cancelled(project, admin_user, admin_client):
    job = make_job("exports.ExportJob", project, admin_user, status=JobStatus.SUCCEEDED)

    retried = admin_client.post(action_url(project, job, "retry"), follow=True)
    admin_client.post(action_url(project, job, "cancel"))

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.cancel_requested_at is None
    assert "Only a failed or cancelled job can be retried" in retried.content.decode()


def test_an_htmx_action_answers_the_refreshed_table_with_the_outcome(
    project, admin_user, admin_client
):
    job = make_job("exports.ExportJob", project, admin_user)

    answer = admin_client.post(
        action_url(project, job, "cancel"), {"status": "cancelled"}, HTTP_HX_REQUEST="true"
    )

    body = answer.content.decode()
    assert answer.status_code == 200 and body.lstrip().startswith('<div id="jobs"')
    assert "is cancelled" in body and f'data-job="{job.pk}" data-status="cancelled"' in body


def test_another_projects_job_or_an_unknown_kind_answers_404(project, admin_user, admin_client):
    other = ProjectFactory(created_by=admin_user)  # admin_user is not a member of it
    theirs = make_job("exports.ExportJob", other, admin_user, status=JobStatus.FAILED)
    mine = make_job("exports.ExportJob", project, admin_user, status=JobStatus.FAILED)

    # The other project's job through this project's page, and through its own.
    assert admin_client.post(action_url(project, theirs, "retry")).status_code == 404
    assert admin_client.post(action_url(other, theirs, "retry")).status_code == 404
    assert admin_client.get(jobs_url(other)).status_code == 404
    unknown = f"/projects/{project.pk}/jobs/auth.user/{mine.pk}/retry/"
    assert admin_client.post(unknown).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == JobStatus.FAILED


def test_annotators_see_no_jobs_and_change_none(project, admin_user, annotator):
    job = make_job("exports.ExportJob", project, admin_user, status=JobStatus.FAILED)
    client = Client()
    client.force_login(annotator)

    assert client.get(jobs_url(project)).status_code == 404
    assert client.post(action_url(project, job, "retry")).status_code == 404
    api = APIClient()
    api.force_authenticate(annotator)
    assert api.get(f"/api/projects/{project.pk}/jobs/").status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_actions_are_posts_with_a_csrf_token(project, admin_user):
    job = make_job("exports.ExportJob", project, admin_user, status=JobStatus.FAILED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.get(action_url(project, job, "retry")).status_code == 405
    assert client.post(action_url(project, job, "retry")).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_the_api_lists_the_projects_jobs_with_filters(project, admin_user):
    failed = make_job(
        "exports.ExportJob", project, admin_user, status=JobStatus.FAILED, error="disk full"
    )
    make_job("webhooks.WebhookDelivery", project, admin_user)
    api = APIClient()
    api.force_authenticate(admin_user)

    everything = api.get(f"/api/projects/{project.pk}/jobs/").json()
    only_failed = api.get(f"/api/projects/{project.pk}/jobs/", {"status": "failed"}).json()

    assert everything["count"] == 2
    assert {r["kind"] for r in everything["results"]} == {
        "exports.exportjob",
        "webhooks.webhookdelivery",
    }
    [row] = only_failed["results"]
    assert (row["kind"], row["id"], row["error"]) == ("exports.exportjob", failed.pk, "disk full")


def test_members_who_are_not_admins_but_admins_elsewhere_cannot_reach_this_projects_jobs(
    project, admin_user
):
    outsider = add_member(ProjectFactory(created_by=admin_user), role="admin")
    add_member(project, outsider)  # an annotator here
    job = make_job("exports.ExportJob", project, admin_user, status=JobStatus.FAILED)
    client = Client()
    client.force_login(outsider)
    assert client.post(action_url(project, job, "retry")).status_code == 404


def test_pages_follow_each_other_newest_first_across_kinds(project, admin_user):
    start = timezone.now()
    made = []
    for i in range(70):  # interleaved kinds, each job a second older than the one before
        job = make_job(
            ("exports.ExportJob", "webhooks.WebhookDelivery")[i % 3 == 0], project, admin_user
        )
        type(job).objects.filter(pk=job.pk).update(created_at=start - timedelta(seconds=i))
        made.append((kind_of(job), job.pk))
    api = APIClient()
    api.force_authenticate(admin_user)

    first = api.get(f"/api/projects/{project.pk}/jobs/").json()
    second = api.get(f"/api/projects/{project.pk}/jobs/", {"page": 2}).json()

    assert first["count"] == 70 and len(first["results"]) == 50
    listed = [(r["kind"], r["id"]) for r in first["results"] + second["results"]]
    assert listed == made


def test_one_kind_of_job_pages_newest_first_without_a_union(project, admin_user, admin_client):
    start = timezone.now()
    made = []
    for i in range(3):
        job = make_job("exports.ExportJob", project, admin_user)
        ExportJob.objects.filter(pk=job.pk).update(created_at=start - timedelta(seconds=i))
        made.append(job.pk)
    api = APIClient()
    api.force_authenticate(admin_user)

    listed = api.get(f"/api/projects/{project.pk}/jobs/", {"kind": "exports.exportjob"}).json()
    page = admin_client.get(f"/projects/{project.pk}/jobs/", {"kind": "exports.exportjob"})

    assert [r["id"] for r in listed["results"]] == made
    assert page.status_code == 200


def test_a_project_without_jobs_shows_an_empty_list(project, admin_client):
    page = admin_client.get(f"/projects/{project.pk}/jobs/")

    assert page.status_code == 200
