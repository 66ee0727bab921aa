"""Each feedback mode through the labeling page's form (no JavaScript needed)."""

import pytest
from django.urls import reverse

from apps.feedback.models import Judgment
from apps.labeling.models import Assignment
from apps.projects.services import principle_save, rubric_item_add
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def open_lease(client, project, annotator):
    client.force_login(annotator)
    page = client.get(reverse("labeling:label", args=[project.pk]))
    assert page.status_code == 200
    return Assignment.objects.get(annotator=annotator, status="active"), page.content.decode()


def post(client, project, lease, data):
    return client.post(
        reverse("labeling:submit", args=[project.pk, lease.pk]), data, HTTP_HX_REQUEST="true"
    )


def test_listwise_ranks_with_a_tie_are_stored_by_canonical_position(client, project, annotator):
    project.kind = "listwise"
    project.save()
    make_task(project, n_responses=4)
    lease, page = open_lease(client, project, annotator)
    assert page.count('class="rank-item card"') == 4
    answer = post(
        client, project, lease, {"rank_0": "2", "rank_1": "1", "rank_2": "2", "rank_3": "3"}
    )
    assert answer.status_code == 200
    assert Judgment.objects.get().payload == {
        "not_rankable": False,
        "reason": "",
        "ranks": [2, 1, 2, 3],
    }


def test_listwise_ranking_that_omits_a_response_is_refused(client, project, annotator):
    project.kind = "listwise"
    project.save()
    make_task(project, n_responses=3)
    lease, _ = open_lease(client, project, annotator)
    answer = post(client, project, lease, {"rank_0": "1", "rank_1": "2"})
    assert answer.status_code == 422 and "whole number" in answer.content.decode()
    assert not Judgment.objects.exists()


def test_listwise_set_can_be_flagged_as_not_rankable(client, project, annotator):
    project.kind = "listwise"
    project.save()
    make_task(project, n_responses=3)
    lease, _ = open_lease(client, project, annotator)
    post(
        client,
        project,
        lease,
        {"not_rankable": "1", "not_rankable_reason": "all three are off-topic"},
    )
    assert Judgment.objects.get().payload["not_rankable"] is True


def test_principle_verdicts_point_at_the_version_they_answered(client, project, annotator):
    project.kind = "principles"
    project.save()
    answers = principle_save(
        project=project, key="answers", text="The response answers the question."
    )
    numbers = principle_save(project=project, key="numbers", text="Every number is correct.")
    make_task(project, n_responses=1, texts=["It is 42 degrees."])
    lease, page = open_lease(client, project, annotator)
    assert "Every number is correct." in page
    post(
        client,
        project,
        lease,
        {
            f"verdict_0_{answers.pk}": "yes",
            f"verdict_0_{numbers.pk}": "no",
            f"evidence_0_{numbers.pk}": "42 degrees",
        },
    )
    judgment = Judgment.objects.get()
    edited = principle_save(
        project=project, key="numbers", text="Every number and unit is correct."
    )
    assert edited.version == 2 and edited.pk != numbers.pk
    verdict = next(v for v in judgment.payload["verdicts"] if v["verdict"] == "no")
    assert verdict["principle"] == numbers.pk and verdict["evidence"] == "42 degrees"
    numbers.refresh_from_db()
    assert numbers.text == "Every number is correct." and not numbers.is_current


def test_verdict_for_a_principle_the_project_does_not_have_is_refused(client, project, annotator):
    project.kind = "principles"
    project.save()
    principle = principle_save(project=project, key="answers", text="Answers the question.")
    make_task(project, n_responses=1)
    lease, _ = open_lease(client, project, annotator)
    answer = post(
        client,
        project,
        lease,
        {f"verdict_0_{principle.pk}": "yes", f"verdict_0_{principle.pk + 99}": "no"},
    )
    assert answer.status_code == 422 and "not one of this project" in answer.content.decode()
    assert not Judgment.objects.exists()


def test_thumbs_is_a_label_per_response(client, project, annotator):
    project.kind = "thumbs"
    project.save()
    make_task(project, n_responses=1)
    lease, _ = open_lease(client, project, annotator)
    post(client, project, lease, {"label_0": "down"})
    assert Judgment.objects.get().payload == {"labels": [False]}


def test_hindsight_reveals_the_consequence_only_after_foresight(client, project, annotator):
    project.kind = "hindsight"
    project.save()
    make_task(project, consequence="The user ran the command and **lost** their files.")
    lease, page = open_lease(client, project, annotator)
    assert "lost" not in page and "Step 1 of 2" in page
    early = post(client, project, lease, {"choice": "A", "strength": "much", "phase": "hindsight"})
    assert early.status_code == 409 and not Judgment.objects.exists()
    revealed = post(
        client, project, lease, {"choice": "A", "strength": "much", "phase": "foresight"}
    ).content.decode()
    assert "<strong>lost</strong>" in revealed and "Step 2 of 2" in revealed
    post(client, project, lease, {"choice": "B", "strength": "clearly", "phase": "hindsight"})
    foresight, hindsight = Judgment.objects.order_by("id")
    assert (foresight.phase, hindsight.phase, hindsight.previous_id) == (
        "foresight",
        "hindsight",
        foresight.pk,
    )
    assert foresight.payload["choice"] == "A" and hindsight.payload["choice"] == "B"
    assert foresight.duration_ms is not None and hindsight.duration_ms is not None


def test_hindsight_task_without_a_consequence_is_not_served(client, project, annotator):
    project.kind = "hindsight"
    project.save()
    make_task(project)
    client.force_login(annotator)
    assert "All done" in client.get(reverse("labeling:label", args=[project.pk])).content.decode()


def test_rubric_is_scored_beside_any_mode(client, project, annotator):
    item = rubric_item_add(project=project, text="Cites a source")
    make_task(project)
    lease, page = open_lease(client, project, annotator)
    assert "Cites a source" in page
    missing = post(client, project, lease, {"choice": "tie"})
    assert missing.status_code == 422
    post(
        client,
        project,
        lease,
        {"choice": "tie", f"rubric_0_{item.pk}": "met", f"rubric_1_{item.pk}": "not_met"},
    )
    assert Judgment.objects.get().payload["rubric"] == [
        {"response": 0, "item": item.pk, "score": "met"},
        {"response": 1, "item": item.pk, "score": "not_met"},
    ]
