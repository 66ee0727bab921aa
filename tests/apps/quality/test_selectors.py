import pytest

from apps.feedback.services import judgment_submit
from apps.labeling.models import Assignment
from apps.labeling.services import task_claim_next
from apps.quality.selectors import annotator_quality_table
from apps.quality.services import annotator_exclusion_set
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db


def judge(project, annotator, payload, *, left_first: bool | None = None, duration_ms=1000):
    lease = task_claim_next(project=project, annotator=annotator)
    if left_first is not None:
        ids = list(lease.task.items.order_by("position").values_list("response_id", flat=True))
        lease.display_order = ids if left_first else ids[::-1]
        Assignment.objects.filter(pk=lease.pk).update(display_order=lease.display_order)
    return judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload=payload, duration_ms=duration_ms
    )


def test_gold_accuracy_median_time_and_position_bias_per_annotator(project, annotator):
    project.gold_rate = 1.0
    project.save()
    make_task(project, is_gold=True, gold_payload={"choice": "A", "strength": "clearly"})
    make_task(project, is_gold=True, gold_payload={"choice": "B", "strength": "much"})
    make_task(project)
    judge(
        project,
        annotator,
        {"choice": "A", "strength": "slightly"},
        left_first=True,
        duration_ms=1000,
    )
    judge(
        project,
        annotator,
        {"choice": "A", "strength": "slightly"},
        left_first=True,
        duration_ms=3000,
    )
    judge(
        project,
        annotator,
        {"choice": "B", "strength": "slightly"},
        left_first=False,
        duration_ms=2000,
    )

    row = next(
        r
        for r in annotator_quality_table(project=project).annotators
        if r.membership.user == annotator
    )
    assert (row.gold_correct, row.gold_total) == (1, 2)
    assert row.median_ms <= 2000  # bounded by the lease clock, so at most the browser's figure
    # Left won twice (A shown left), and B shown left won once: all three were left wins.
    assert (row.first_shown_wins, row.decisive) == (3, 3)
    assert row.cycles == 0


def test_agreement_is_computed_on_shared_tasks_and_excluding_an_annotator_changes_it(project):
    project.overlap = 3
    project.save()
    for _ in range(3):
        make_task(project)
    one, two, three = (add_member(project) for _ in range(3))
    A4, A3, B4, B3, TIE = (
        {"choice": "A", "strength": "much"},
        {"choice": "A", "strength": "clearly"},
        {"choice": "B", "strength": "much"},
        {"choice": "B", "strength": "clearly"},
        {"choice": "tie"},
    )
    # Annotators one and two agree closely; three contradicts them.
    for payloads in ((A4, A3, B4), (B4, B3, A4), (TIE, TIE, A4)):
        for annotator, payload in zip((one, two, three), payloads, strict=True):
            judge(project, annotator, payload)
    before = annotator_quality_table(project=project)
    assert before.agreement.units == 3 and before.agreement.level == "interval"
    annotator_exclusion_set(
        project=project, annotator_id=three.pk, excluded=True, by=project.created_by
    )
    after = annotator_quality_table(project=project)
    assert after.judgments_counted == before.judgments_counted - 3
    assert after.agreement.alpha > before.agreement.alpha
