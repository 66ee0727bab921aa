"""Excluding and including annotators while others claim and submit, on PostgreSQL, with real
threads and connections: no deadlock, no error but the documented refusals, and every task's
count equals its counted judgments at the end."""

import threading

import pytest
from django.db import connection

from apps.core.errors import Conflict, PermissionDenied
from apps.feedback.services import judgment_submit
from apps.labeling.models import Task
from apps.labeling.services import counted_judgments, task_claim_next
from apps.quality.services import annotator_exclusion_set
from tests.factories import ProjectFactory, StaffFactory, UserFactory, add_member, make_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
A_BETTER = {"choice": "A", "strength": "clearly"}


def _run_in_threads(targets):
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def runner(target):
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_exclusions_racing_claims_and_submits_keep_every_count_exact():
    admin = StaffFactory()
    project = ProjectFactory(overlap=2, created_by=admin)
    make_tasks(project, 12)
    early = [add_member(project, UserFactory()) for _ in range(3)]
    late = [add_member(project, UserFactory()) for _ in range(6)]
    for annotator in early:  # the early three judge most tasks (two per task)
        while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
            judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER)

    def toggle(annotator):
        def run():
            for excluded in (True, False, True, False):
                annotator_exclusion_set(
                    project=project, annotator_id=annotator.pk, excluded=excluded, by=admin
                )

        return run

    def label(annotator):
        def run():
            for _ in range(12):
                try:
                    lease = task_claim_next(project=project, annotator=annotator)
                    if lease is None:
                        continue
                    judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER)
                except (Conflict, PermissionDenied):
                    pass  # the lease was closed by a re-inclusion: refused, nothing stored

        return run

    _run_in_threads([toggle(early[0]), toggle(early[1])] + [label(a) for a in late + early[2:]])

    for task in Task.objects.filter(project=project):
        assert task.judgment_count == counted_judgments().filter(task=task).count()
