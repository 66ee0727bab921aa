"""The work report: per annotator, hours on task, judgments, skips and gold accuracy over a
period, as a CSV download for paying people."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.feedback.services import judgment_submit
from apps.labeling.models import Assignment
from apps.labeling.services import assignment_skip, task_claim_next
from apps.teams.selectors import work_report
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db
A_BETTER = {"choice": "A", "strength": "clearly"}
B_BETTER = {"choice": "B", "strength": "clearly"}


def work(project, annotator, payload, *, minutes: float):
    """Claims the next task, and judges it `minutes` after the lease began."""
    lease = task_claim_next(project=project, annotator=annotator)
    judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=payload)
    started = timezone.now() - timedelta(minutes=minutes)
    Assignment.objects.filter(pk=lease.pk).update(created_at=started)
    return lease


@pytest.fixture
def worked(project):
    project.gold_rate = 0.0
    project.save()
    ann, bob = add_member(project, UserFactory()), add_member(project, UserFactory())
    make_task(project, is_gold=True, gold_payload=A_BETTER, priority=-2)
    make_task(project, is_gold=True, gold_payload=A_BETTER, priority=-1)
    for _ in range(3):
        make_task(project)
    # Gold tasks are served only when gold is wanted or nothing else is left: ask for them.
    project.gold_rate = 1.0
    project.save()
    work(project, ann, A_BETTER, minutes=30)  # gold, right
    work(project, ann, B_BETTER, minutes=15)  # gold, wrong
    project.gold_rate = 0.0
    project.save()
    work(project, ann, A_BETTER, minutes=15)
    lease = task_claim_next(project=project, annotator=bob)
    assignment_skip(assignment_id=lease.pk, annotator=bob)
    return project, ann, bob


def test_hours_judgments_skips_and_gold_accuracy_per_annotator(worked):
    project, ann, bob = worked
    now = timezone.now()
    rows = {
        r.annotator_id: r
        for r in work_report(
            project=project, start=now - timedelta(days=1), end=now + timedelta(minutes=1)
        )
    }

    assert rows[ann.pk].judgments == 3
    assert rows[ann.pk].hours_on_task == pytest.approx(1.0, abs=0.01)  # 30 + 15 + 15 minutes
    assert (rows[ann.pk].gold_right, rows[ann.pk].gold_answered) == (1, 2)
    assert rows[ann.pk].gold_accuracy == 0.5
    assert rows[bob.pk].judgments == 0 and rows[bob.pk].skipped == 1


def test_work_outside_the_period_is_left_out(worked):
    project, *_ = worked
    later = timezone.now() + timedelta(days=1)
    assert work_report(project=project, start=later, end=later + timedelta(days=1)) == []


def test_the_csv_download_has_a_row_per_annotator(client, worked, admin_user):
    project, ann, bob = worked
    client.force_login(admin_user)
    today = timezone.localdate()
    response = client.get(
        reverse("teams:report", args=[project.pk]),
        {"start": str(today - timedelta(days=1)), "end": str(today)},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {row["annotator"]: row for row in rows}
    assert by_name[ann.username]["judgments"] == "3"
    assert by_name[ann.username]["gold_accuracy"] == "0.500"
    assert by_name[bob.username]["tasks_skipped"] == "1"


def test_a_username_that_looks_like_a_formula_is_written_as_text(client, project, admin_user):
    sneaky = add_member(project, UserFactory(username="=HYPERLINK"))
    make_task(project)
    lease = task_claim_next(project=project, annotator=sneaky)
    judgment_submit(assignment_id=lease.pk, annotator=sneaky, payload=A_BETTER)
    client.force_login(admin_user)
    body = client.get(reverse("teams:report", args=[project.pk])).content.decode()
    assert "'=HYPERLINK" in body


def test_an_annotator_cannot_download_the_report(client, project, annotator):
    client.force_login(annotator)
    assert client.get(reverse("teams:report", args=[project.pk])).status_code == 404
