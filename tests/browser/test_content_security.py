"""Pages work in a real browser under the Content-Security-Policy, and the browser reports no
violation: the API docs (Swagger UI from our own static files), a run page's chart, and an htmx
swap."""

import pytest

from apps.projects.models import Membership, Role
from apps.training.models import RunMetric, RunStatus, TrainingRun
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE_METRIC = "eval/auroc/</script><img src=x onerror=window.pwned=1>"


def watch_for_violations(page) -> list[str]:
    """Console errors and uncaught page errors as the browser reports them (a CSP violation is
    one), less the browser's own request for a favicon, which the app has none of."""
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_the_api_docs_render_offline_from_our_own_files(page, live_server):
    problems = watch_for_violations(page)
    remote = []
    page.on(
        "request",
        lambda r: remote.append(r.url) if not r.url.startswith(live_server.url) else None,
    )

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")

    assert "Arbiter API" in page.inner_text(".swagger-ui .info .title")
    assert page.evaluate("typeof SwaggerUIBundle") == "function"
    page.wait_for_selector(".opblock-tag")  # the schema was fetched and its operations listed
    assert remote == [] and problems == []


def test_a_run_page_draws_its_chart_and_a_hostile_metric_name_stays_data(page, live_server):
    admin = StaffFactory(username="boss")
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_pairwise",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=admin,
        metrics={HOSTILE_METRIC.removeprefix("eval/"): 0.5},
    )
    for step, value in enumerate([0.9, 0.7, 0.5], start=1):
        RunMetric.objects.create(run=run, step=step, name="loss", value=value)
    RunMetric.objects.create(run=run, step=3, name=HOSTILE_METRIC, value=0.5)
    problems = watch_for_violations(page)
    log_in(page, live_server, "boss", PASSWORD)

    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.wait_for_function("() => document.getElementById('loss-chart')._chart !== undefined")

    points = page.evaluate(
        "document.getElementById('loss-chart')._chart.data.datasets[0].data.map(p => p.y)"
    )
    assert points == [0.9, 0.7, 0.5]
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").count() == 0
    assert problems == []


def test_htmx_polls_and_swaps_a_running_runs_progress_under_the_policy(page, live_server):
    admin = StaffFactory(username="boss")
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_pairwise",
        family="reward",
        config={},
        status=RunStatus.RUNNING,
        total_steps=10,
        created_by=admin,
    )
    problems = watch_for_violations(page)
    log_in(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    assert page.evaluate("[htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [
        False,
        False,
    ]

    TrainingRun.objects.filter(pk=run.pk).update(step=7)
    page.wait_for_selector("#run-progress[data-step='7']")  # htmx fetched and swapped it
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, step=10, metrics={"pairwise_accuracy": 0.75}
    )
    # The run ended: the poll's answer asks htmx to reload the page, which shows the evaluation.
    page.wait_for_selector("[data-metric=pairwise_accuracy]")

    assert page.inner_text("[data-metric=pairwise_accuracy]") == "0.7500"
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    assert problems == []
