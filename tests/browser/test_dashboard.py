"""The review dashboard in a real browser: charts drawn, live run progress, exclusions."""

import pytest

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import Membership, Role
from apps.training.services import training_run_launch
from tests.apps.training.conftest import seed_pairwise_labels
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD, ProjectFactory, StaffFactory, add_member, make_task
from tests.models_offered import offer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def admin_project(username="boss", **fields):
    admin = StaffFactory(username=username)
    project = ProjectFactory(created_by=admin, **fields)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project


def label_with_disagreement(project):
    agreeing, contrarian = add_member(project), add_member(project)
    for i in range(6):
        make_task(project, texts=[f"Good answer {i}", f"Poor answer {i}"])
    for annotator, choice in ((agreeing, "A"), (contrarian, "B")):
        while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
            strength = "much" if lease.task_id % 2 else "slightly"
            judgment_submit(
                assignment_id=lease.pk,
                annotator=annotator,
                payload={"choice": choice, "strength": strength},
            )
    return agreeing, contrarian


def test_overview_draws_its_charts_and_excluding_an_annotator_changes_the_figures(
    page, live_server
):
    project = admin_project(overlap=2)
    _, contrarian = label_with_disagreement(project)
    log_in(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_function(
        "() => document.querySelector('canvas[data-chart=per-day]')._chart !== undefined"
    )
    series = page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => "
        "[c.dataset.chart, c._chart.data.datasets.map(d => d.label), c._chart.data.datasets[0].data])"
    )
    assert series[0][:2] == ["per-day", ["pairwise"]] and sum(series[0][2]) == 12
    assert series[1][0] == "annotators" and sorted(series[1][2]) == [6, 6]
    screenshot(page, "dashboard")
    counted_before = page.inner_text("[data-stat=judgments]")
    alpha_before = page.inner_text("[data-stat=alpha]")

    page.click(f"button[data-exclude='{contrarian.username}']")
    page.wait_for_selector(f"button[data-include='{contrarian.username}']")
    assert page.inner_text("[data-stat=alpha]") != alpha_before
    assert "(6 counted)" in page.inner_text(".stats") and counted_before == page.inner_text(
        "[data-stat=judgments]"
    )


@pytest.mark.worker
def test_a_runs_progress_bar_advances_while_a_real_worker_trains(
    page, live_server, start_worker, tmp_path, settings
):
    from tests.trainer.tiny import build_tiny_bert

    project = admin_project(username="trainer-admin")
    seed_pairwise_labels(project, prompts=40)
    # Offered before the worker starts: it reads the model roots from its environment.
    tiny = offer(settings, build_tiny_bert(tmp_path / "models" / "tiny-bert"))
    start_worker("training", name="browser-trainer")
    run = training_run_launch(
        project=project,
        user=project.created_by,
        objective="reward_pairwise",
        config={"model": tiny, "num_epochs": 40, "batch_size": 2, "learning_rate": 1e-3},
    )
    log_in(page, live_server, "trainer-admin", PASSWORD)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    seen = set()
    page.wait_for_function(
        "() => Number(document.querySelector('#run-progress').dataset.step) > 0", timeout=120_000
    )
    for _ in range(3):
        seen.add(int(page.get_attribute("#run-progress", "data-step")))
        page.wait_for_timeout(1200)
    assert len(seen) >= 2, f"the bar did not move: {seen}"
    # When the run ends the page refreshes itself and shows the held-out evaluation.
    page.wait_for_selector("[data-metric=pairwise_accuracy]", timeout=240_000)
    assert page.get_attribute("#run-progress", "data-status") == "succeeded"
    assert page.get_attribute("#run-progress .progressbar", "aria-valuenow") == "100"
    screenshot(page, "run")
    points = page.evaluate(
        "document.querySelector('#loss-chart')._chart.data.datasets[0].data.length"
    )
    assert points > 0
