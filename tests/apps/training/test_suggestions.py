import pytest
from django.urls import reverse

from apps.labeling.models import Task
from apps.training.models import RunStatus
from apps.training.services import training_run_execute, training_run_launch
from apps.training.suggestions import latest_reward_run, task_suggestions
from tests.trainer.tiny import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained_run(labeled_project, tiny_bert, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_launch(
            project=labeled_project,
            user=labeled_project.created_by,
            objective="reward_pairwise",
            config={
                "model": str(tiny_bert),
                "num_epochs": 8,
                "batch_size": 4,
                "learning_rate": 2e-3,
            },
        )
    training_run_execute(run_id=run.pk, worker="inline")  # the task body, in this process
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_a_trained_reward_model_scores_each_tasks_responses_and_prefers_the_good_ones(
    labeled_project, trained_run
):
    assert latest_reward_run(project=labeled_project) == trained_run
    agree = 0
    tasks = list(Task.objects.filter(project=labeled_project))
    for task in tasks:
        scores = task_suggestions(task=task, run=trained_run)
        texts = [item.response.text for item in task.items.order_by("position")]
        good = 0 if any(w in texts[0].split() for w in GOOD) else 1
        agree += scores[good].score > scores[1 - good].score
    assert agree / len(tasks) > 0.9


def test_admins_see_the_suggestions_on_the_task_review(client, labeled_project, trained_run):
    client.force_login(labeled_project.created_by)
    task = Task.objects.filter(project=labeled_project).first()
    page = client.get(reverse("quality:task", args=[labeled_project.pk, task.pk])).content.decode()
    assert page.count("data-suggestion=") == 2 and f"Suggestions from run {trained_run.pk}" in page
