"""Principle runs name their per-principle metrics by principle version id; the run and compare
pages look the text up and escape it, and no metric name can break out of the page's data block."""

import json
import random
import re

import pytest
from django.urls import reverse

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind, Membership, Principle, Role
from apps.training.models import RunMetric, RunStatus, TrainingRun
from apps.training.services import training_run_launch
from apps.training.tasks import run_training
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task
from tests.models_offered import offer
from tests.trainer.tiny import BAD, GOOD, NEUTRAL

# A project admin's principle written to break out of a <script> block, and long (~300 chars).
HOSTILE = "</script><img src=x onerror=alert(1)>" + " Is the answer polite and kind?" * 9


def principles_project():
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin, kind=FeedbackKind.PRINCIPLES)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    hostile = Principle.objects.create(project=project, key="hostile", text=HOSTILE)
    plain = Principle.objects.create(project=project, key="polite", text="Is it polite?")
    return project, hostile, plain


def label_verdicts(project, principles, *, prompts: int) -> None:
    """One response per task; every principle holds exactly when the response has a good word."""
    rng = random.Random(0)
    for i in range(prompts):
        word = rng.choice(GOOD if i % 2 else BAD)
        make_task(project, texts=[f"{' '.join(rng.sample(NEUTRAL, 3))} {word}"])
    annotator = add_member(project)
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        text = lease.task.items.get().response.text
        verdict = "yes" if any(word in text.split() for word in GOOD) else "no"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={
                "verdicts": [
                    {"response": 0, "principle": p.pk, "verdict": verdict, "evidence": ""}
                    for p in principles
                ]
            },
        )


def curves_in(html: str) -> dict:
    block = re.search(
        r'<script id="curves-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert block, "the curves data block is missing"
    return json.loads(block.group(1))


@pytest.mark.django_db(transaction=True)
def test_a_principle_run_with_a_long_hostile_principle_trains_and_its_page_is_inert(
    client, tiny_bert, settings
):
    project, hostile, plain = principles_project()
    label_verdicts(project, [hostile, plain], prompts=40)
    run = training_run_launch(
        project=project,
        user=project.created_by,
        objective="reward_principle",
        config={"model": offer(settings, tiny_bert), "batch_size": 8, "max_steps": 6},
    )

    run_training.apply(args=[run.pk])  # the training task's body, in this process

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    names = set(RunMetric.objects.filter(run=run).values_list("name", flat=True))
    assert {f"eval/auroc/principle-{hostile.pk}", f"eval/auroc/principle-{plain.pk}"} <= names
    # Every name fits the column (PostgreSQL refuses longer ones; SQLite would not notice).
    assert max(map(len, names)) <= RunMetric._meta.get_field("name").max_length

    client.force_login(project.created_by)
    html = client.get(reverse("training:detail", args=[run.pk])).content.decode()
    assert "</script><img" not in html
    assert f"hostile v1: {HOSTILE[:20]}".replace("<", "&lt;").replace(">", "&gt;") in html
    assert "loss" in curves_in(html)


@pytest.mark.django_db
def test_metric_names_recorded_before_keys_by_id_stay_inside_the_data_block(client):
    """Runs recorded by earlier versions named metrics by principle text."""
    project, _, _ = principles_project()
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_principle",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
        metrics={"auroc/</script><img src=x onerror=alert(1)>": 0.75},
    )
    legacy = "eval/auroc/</script><img src=x onerror=alert(1)>"
    RunMetric.objects.create(run=run, step=3, name=legacy, value=0.75)
    RunMetric.objects.create(run=run, step=3, name="loss", value=0.5)
    client.force_login(project.created_by)

    for url in (
        reverse("training:detail", args=[run.pk]),
        reverse("dashboard:compare", args=[project.pk]) + f"?runs={run.pk}",
    ):
        html = client.get(url).content.decode()
        assert "</script><img" not in html, url
        curves = curves_in(html)
        assert legacy in curves or f"#{run.pk} {legacy}" in curves, url


@pytest.mark.django_db
def test_the_compare_page_labels_principle_metrics_with_their_text(client):
    project, hostile, _ = principles_project()
    runs = [
        TrainingRun.objects.create(
            project=project,
            objective="reward_principle",
            family="reward",
            config={},
            status=RunStatus.SUCCEEDED,
            created_by=project.created_by,
            metrics={f"auroc/principle-{hostile.pk}": value, "accuracy": 0.5},
        )
        for value in (0.61, 0.72)
    ]
    other_project, _, _ = principles_project()
    foreign = Principle.objects.get(project=other_project, key="polite")
    runs[1].metrics[f"auroc/principle-{foreign.pk}"] = 0.9  # not this project's: shown by name
    runs[1].save()
    client.force_login(project.created_by)

    html = client.get(
        reverse("dashboard:compare", args=[project.pk]) + f"?runs={runs[0].pk}&runs={runs[1].pk}"
    ).content.decode()

    assert "auroc · hostile v1: &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "0.6100" in html and "0.7200" in html
    assert f"<td>auroc/principle-{foreign.pk}</td>" in html
    assert foreign.text not in html
