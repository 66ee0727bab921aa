"""Excluding labels from exports and training, reversibly: nothing is deleted, and who did it
and when is kept. An excluded label stops counting toward its task's overlap, so the task is
offered again and no task silently loses a label."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.dashboard.services import (
    rollups_annotator_counting_changed,
    rollups_judgment_exclusion_changed,
)
from apps.feedback.models import Judgment
from apps.labeling.services import annotator_leases_release, task_judgment_counts_refresh
from apps.projects.models import Membership, Project
from apps.quality.cycles import cycles_recount


@transaction.atomic
def annotator_exclusion_set(
    *, project: Project, annotator_id: int, excluded: bool, by: User
) -> Membership:
    """Excludes the annotator (or lifts it): their open leases are released, and their
    judgments stop (or start again) counting toward their tasks' overlap. Setting the state
    the membership already has changes nothing."""
    # Locked, so that a concurrent claim by this annotator is either refused or released here.
    membership = (
        Membership.objects.select_for_update().filter(project=project, user_id=annotator_id).first()
    )
    if membership is None:
        raise NotFound(_("No such annotator in this project."))
    if (membership.excluded_at is not None) == excluded:
        return membership
    membership.excluded_at = timezone.now() if excluded else None
    membership.excluded_by = by if excluded else None
    membership.save(update_fields=["excluded_at", "excluded_by"])
    if excluded:
        annotator_leases_release(project=project, annotator_id=annotator_id)
    task_judgment_counts_refresh(
        task_ids=Judgment.objects.filter(project=project, annotator_id=annotator_id).values_list(
            "task_id", flat=True
        )
    )
    rollups_annotator_counting_changed(project=project, annotator_id=annotator_id)
    return membership


@transaction.atomic
def judgment_exclusion_set(
    *, project: Project, judgment_id: int, excluded: bool, by: User
) -> Judgment:
    judgment = Judgment.objects.filter(project=project, pk=judgment_id).first()
    if judgment is None:
        raise NotFound(_("No such judgment in this project."))
    changed = (judgment.excluded_at is not None) != excluded
    judgment.excluded_at = timezone.now() if excluded else None
    judgment.excluded_by = by if excluded else None
    judgment.save(update_fields=["excluded_at", "excluded_by"])
    task_judgment_counts_refresh(task_ids=[judgment.task_id])
    if changed:
        rollups_judgment_exclusion_changed(project=project, judgment=judgment)
    if judgment.annotator_id and judgment.chosen_response_id:
        cycles_recount(project_id=project.pk, annotator_id=judgment.annotator_id)
    return judgment
