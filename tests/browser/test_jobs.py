"""The jobs page in a real browser: reached from the project page, retry and cancel swap the
table in place, and the table follows jobs that change while it is open."""

import pytest
from django.utils import timezone

from apps.core.jobs import JobStatus
from apps.exports.models import ExportJob
from apps.projects.models import Membership, Role
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, ProjectFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_retries_and_cancels_jobs_and_sees_a_running_one_finish(page, live_server):
    admin = StaffFactory(username="boss")
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    failed = ExportJob.objects.create(
        project=project,
        kind="pairs",
        format="jsonl",
        options={},
        created_by=admin,
        status=JobStatus.FAILED,
        attempts=3,
        error="The worker stopped answering; gave up after 3 attempts.",
    )
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://hooks.example.com/in", events=["task.completed"]
    )
    queued = WebhookDelivery.objects.create(endpoint=endpoint, event="task.completed", payload={})
    running = ExportJob.objects.create(
        project=project,
        kind="unpaired",
        format="parquet",
        options={},
        created_by=admin,
        status=JobStatus.RUNNING,
        attempts=1,
        worker="worker-1 pid 42",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )

    log_in(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click("a:text-is('Jobs')")
    page.wait_for_selector("table.jobs")
    row = f"tr[data-kind='exports.exportjob'][data-job='{failed.pk}']"
    assert "gave up after 3 attempts" in page.inner_text(row)
    assert page.inner_text(f"{row} td:nth-child(4)") == "3/3"
    screenshot(page, "jobs")

    page.click(f"{row} button:text('Retry')")
    page.wait_for_selector(f"{row}[data-status='queued']")
    assert "queued again" in page.inner_text("[data-notice]")

    delivery = f"tr[data-kind='webhooks.webhookdelivery'][data-job='{queued.pk}']"
    page.click(f"{delivery} button:text('Cancel')")
    page.wait_for_selector(f"{delivery}[data-status='cancelled']")
    assert page.locator(f"{delivery} button:text('Retry')").count() == 1

    # A worker finishes the running export while the page is open: the table follows.
    ExportJob.objects.filter(pk=running.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now()
    )
    page.wait_for_selector(
        f"tr[data-kind='exports.exportjob'][data-job='{running.pk}'][data-status='succeeded']"
    )
