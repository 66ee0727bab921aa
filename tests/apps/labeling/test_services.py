from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import Conflict, NotFound
from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.models import Assignment, AssignmentStatus
from apps.labeling.services import assignment_skip, task_claim_next, task_flag
from tests.factories import UserFactory, add_member, make_task, make_tasks

pytestmark = pytest.mark.django_db
A_BETTER = {"choice": "A", "strength": "clearly"}


def test_claim_leases_a_task_with_both_responses_in_a_stored_order(project, annotator):
    task = make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    assert lease.task == task
    assert sorted(lease.display_order) == sorted(task.items.values_list("response_id", flat=True))
    assert lease.expires_at > timezone.now()


def test_asking_again_returns_the_open_lease_instead_of_a_second_task(project, annotator):
    make_tasks(project, 3)
    first = task_claim_next(project=project, annotator=annotator)
    assert task_claim_next(project=project, annotator=annotator) == first
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_task_is_never_given_past_its_overlap(project):
    project.overlap = 2
    project.save()
    task = make_task(project)
    annotators = [add_member(project) for _ in range(3)]
    leases = [task_claim_next(project=project, annotator=a) for a in annotators]
    assert [lease.task if lease else None for lease in leases] == [task, task, None]


def test_annotator_never_gets_a_task_they_judged(project, annotator):
    project.overlap = 3
    project.save()
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER)
    assert task_claim_next(project=project, annotator=annotator) is None


def test_expired_lease_frees_the_slot_for_someone_else(project, annotator):
    task = make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    other = add_member(project)
    assert task_claim_next(project=project, annotator=other) is None
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert task_claim_next(project=project, annotator=other).task == task


def test_submitting_twice_stores_one_judgment(project, annotator):
    task = make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    first = judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload=A_BETTER, duration_ms=1200
    )
    again = judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload=A_BETTER, duration_ms=1300
    )
    assert first.created and not again.created
    assert again.judgment == first.judgment
    task.refresh_from_db()
    assert task.judgment_count == 1
    assert Judgment.objects.count() == 1


def test_judgment_stores_display_order_and_time_on_task(project, annotator):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    judgment = judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload=A_BETTER, duration_ms=10**9
    ).judgment
    assert judgment.display_order == lease.display_order
    # The browser's clock is bounded by how long the lease has really been open.
    assert 0 <= judgment.duration_ms < 10_000


def test_expired_lease_whose_slot_was_taken_gets_a_clear_conflict_and_keeps_other_work(
    project, annotator
):
    make_tasks(project, 2)
    done = task_claim_next(project=project, annotator=annotator)
    judgment_submit(assignment_id=done.pk, annotator=annotator, payload=A_BETTER)
    late = task_claim_next(project=project, annotator=annotator)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    other = add_member(project)
    assert task_claim_next(project=project, annotator=other).task_id == late.task_id
    with pytest.raises(Conflict, match="expired"):
        judgment_submit(assignment_id=late.pk, annotator=annotator, payload=A_BETTER)
    assert Judgment.objects.filter(annotator=annotator).count() == 1


def test_expired_lease_is_still_accepted_while_its_slot_is_free(project, annotator):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER).created


def test_someone_elses_lease_answers_not_found(project, annotator):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    intruder = add_member(project)
    with pytest.raises(NotFound):
        judgment_submit(assignment_id=lease.pk, annotator=intruder, payload=A_BETTER)
    assert not Judgment.objects.exists()


def test_invalid_payload_stores_nothing_and_keeps_the_lease(project, annotator):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    with pytest.raises(Exception, match="strength"):
        judgment_submit(assignment_id=lease.pk, annotator=annotator, payload={"choice": "A"})
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.ACTIVE
    assert not Judgment.objects.exists()


def test_skipped_task_goes_to_others_but_not_back_to_the_skipper(project, annotator):
    task = make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    assignment_skip(assignment_id=lease.pk, annotator=annotator)
    assert task_claim_next(project=project, annotator=annotator) is None
    assert task_claim_next(project=project, annotator=add_member(project)).task == task


def test_flagging_records_the_reason_and_skips(project, annotator):
    task = make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    flag = task_flag(
        assignment_id=lease.pk, annotator=annotator, reason="harmful", note="slur in B"
    )
    assert (flag.task, flag.reason) == (task, "harmful")
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SKIPPED


def test_required_critique_must_reach_the_minimum_length(project, annotator):
    project.critique_policy, project.critique_min_length = "required", 20
    project.save()
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    with pytest.raises(Exception, match="at least 20"):
        judgment_submit(
            assignment_id=lease.pk, annotator=annotator, payload=A_BETTER, critique="too short"
        )
    stored = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload=A_BETTER,
        critique="B invents a citation; A is sourced.",
    )
    assert stored.judgment.critique.startswith("B invents")


def test_gold_tasks_are_mixed_in_at_the_gold_rate(project):
    project.gold_rate = 1.0
    project.save()
    make_tasks(project, 3)
    gold = make_task(project, is_gold=True, gold_payload=A_BETTER)
    lease = task_claim_next(project=project, annotator=add_member(project, UserFactory()))
    assert lease.task == gold


def test_hindsight_task_takes_foresight_then_hindsight_linked(project, annotator):
    project.kind = "hindsight"
    project.save()
    task = make_task(project, consequence="The user followed A and lost their data.")
    lease = task_claim_next(project=project, annotator=annotator)
    foresight = judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload=A_BETTER, phase="foresight"
    )
    assert task_claim_next(project=project, annotator=annotator) == lease
    hindsight = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"choice": "B", "strength": "much"},
        phase="hindsight",
    )
    assert hindsight.judgment.previous == foresight.judgment
    assert foresight.judgment.payload["choice"] == "A"  # the first judgment is never changed
    task.refresh_from_db()
    assert task.judgment_count == 1
