"""An admin starts a generation job from the page, watches its bar fill, and cancels it."""

import pytest
from django.urls import include, path

from apps.generation.models import GenerationJob
from apps.projects.models import Membership, Role
from config import urls as site_urls
from tests.apps.generation.openai_server import Step, completion, openai_server
from tests.apps.generation.test_jobs_worker import (  # noqa: F401 (fixtures)
    broker_env,
    loopback_model_servers,
)
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, ProjectFactory, PromptFactory, StaffFactory

# The site's URLs with this app's, until config/urls.py includes them.
urlpatterns = list(site_urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "generation" for p in urlpatterns):
    urlpatterns.append(path("", include("apps.generation.urls")))

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.urls(__name__)]


def test_a_job_started_from_the_page_shows_its_progress_and_stops_on_cancel(
    page,
    live_server,
    start_worker,
    broker_env,  # noqa: F811
    loopback_model_servers,  # noqa: F811
):
    admin = StaffFactory(username="generation-admin")
    project = ProjectFactory(created_by=admin, name="Sampling")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    for _ in range(30):
        PromptFactory(project=project)
    start_worker("default", name="browser-generator", **broker_env)
    steps = [Step(body=completion(f"Left {i}.", f"Right {i}."), delay=0.4) for i in range(30)]
    with openai_server(*steps) as server:
        log_in(page, live_server, "generation-admin", PASSWORD)
        page.goto(f"{live_server.url}/projects/{project.pk}/generation/new/")
        page.fill("input[name=openai_base_url]", server.base_url)
        page.fill("input[name=openai_models]", "served-7b")
        page.fill("input[name=batch_size]", "1")
        page.select_option("select[name=selection]", "all")
        screenshot(page, "generation-new")
        page.click("button.primary")
        page.wait_for_url(f"{live_server.url}/generation/*/")

        page.wait_for_function(
            "() => Number(document.querySelector('#job-status').dataset.done) >= 2", timeout=60_000
        )
        first = int(page.get_attribute("#job-status", "data-done"))
        page.wait_for_function(
            f"() => Number(document.querySelector('#job-status').dataset.done) > {first}",
            timeout=30_000,
        )
        screenshot(page, "generation-job")
        page.click("text=Cancel job")
        page.wait_for_selector("#job-status[data-status=cancelled]", timeout=30_000)

    job = GenerationJob.objects.get(project=project)
    assert 3 <= job.done < 30 and job.tasks_created == job.done
    assert page.get_attribute("#job-status .progressbar", "aria-valuenow") == str(job.percent)
    assert "Resume" in page.inner_text("#job-status")
