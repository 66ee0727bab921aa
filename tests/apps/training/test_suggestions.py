import pytest
from django.urls import reverse

from apps.autopilot.champions import run_gate
from apps.labeling.models import Task
from apps.training.models import RunStatus
from apps.training.services import training_run_execute, training_run_launch
from apps.training.suggestions import champion_reward_run, task_suggestions
from tests.trainer.tiny import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained_run(labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_launch(
            project=labeled_project,
            user=labeled_project.created_by,
            objective="reward_pairwise",
            config={
                "model": tiny_bert_ref,
                "num_epochs": 8,
                "batch_size": 4,
                "learning_rate": 2e-3,
            },
        )
    training_run_execute(run_id=run.pk, worker="inline")  # the task body, in this process
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    # The project's first reward model: the gate promotes it, and it serves.
    assert run_gate(run_id=run.pk).decision == "promoted"
    return run


def test_a_trained_reward_model_scores_each_tasks_responses_and_prefers_the_good_ones(
    labeled_project, trained_run
):
    assert champion_reward_run(project=labeled_project) == trained_run
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


def test_scores_are_stored_and_the_uncertainty_queue_serves_close_calls_first(
    labeled_project, trained_run
):
    from apps.labeling.services import task_claim_next
    from apps.training.models import TaskScore
    from apps.training.scoring import tasks_score, uncertainty
    from tests.factories import add_member, make_task

    close = make_task(labeled_project, texts=["the answer is here", "the answer is here so"])
    labeled_project.queue_order = "uncertainty"
    labeled_project.save()
    assert tasks_score(run=trained_run) == Task.objects.filter(project=labeled_project).count()
    stored = TaskScore.objects.get(task=close, run=trained_run).scores
    assert len(stored) == 2
    open_tasks = Task.objects.filter(
        project=labeled_project, judgment_count__lt=labeled_project.overlap
    )
    assert open_tasks.get(pk=close.pk).priority == pytest.approx(uncertainty([stored]))
    # The open task whose responses the model can barely tell apart is served first.
    lease = task_claim_next(project=labeled_project, annotator=add_member(labeled_project))
    assert lease.task == min(open_tasks, key=lambda t: t.priority)


def test_uncertainty_of_several_models_puts_their_disagreements_first():
    from apps.training.scoring import uncertainty

    agreeing = uncertainty([[2.0, 0.0], [1.5, 0.0]])
    disagreeing = uncertainty([[2.0, 0.0], [0.0, 2.0]])
    assert disagreeing < agreeing


def test_annotators_see_suggestions_only_when_the_project_shows_them(
    client, labeled_project, trained_run
):
    from apps.training.scoring import tasks_score
    from tests.factories import add_member, make_task

    make_task(labeled_project)
    tasks_score(run=trained_run)
    annotator = add_member(labeled_project)
    client.force_login(annotator)
    url = reverse("labeling:label", args=[labeled_project.pk])
    assert "reward model" not in client.get(url).content.decode()
    labeled_project.show_suggestions = True
    labeled_project.save()
    assert client.get(url).content.decode().count('class="badge suggestion"') == 2


def test_admins_see_where_people_and_the_model_disagree(client, labeled_project, trained_run):
    from apps.feedback.services import judgment_submit
    from apps.labeling.services import task_claim_next
    from apps.training.scoring import tasks_score
    from tests.factories import add_member, make_task

    contrarian = add_member(labeled_project)
    task = make_task(labeled_project, texts=["great helpful clear", "rude wrong vague"])
    while (lease := task_claim_next(project=labeled_project, annotator=contrarian)) is not None:
        choice = "B" if lease.task_id == task.pk else "A"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=contrarian,
            payload={"choice": choice, "strength": "much"},
        )
    tasks_score(run=trained_run)
    client.force_login(labeled_project.created_by)
    page = client.get(
        reverse("dashboard:disagreements", args=[labeled_project.pk])
    ).content.decode()
    assert f'data-task="{task.pk}"' in page
