"""Excluding labels from exports and training, reversibly: nothing is deleted, and who did it
and when is kept."""

from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.feedback.models import Judgment
from apps.projects.models import Membership, Project
from apps.quality.cycles import cycles_recount


def annotator_exclusion_set(
    *, project: Project, annotator_id: int, excluded: bool, by: User
) -> Membership:
    membership = Membership.objects.filter(project=project, user_id=annotator_id).first()
    if membership is None:
        raise NotFound("No such annotator in this project.")
    membership.excluded_at = timezone.now() if excluded else None
    membership.excluded_by = by if excluded else None
    membership.save(update_fields=["excluded_at", "excluded_by"])
    return membership


def judgment_exclusion_set(
    *, project: Project, judgment_id: int, excluded: bool, by: User
) -> Judgment:
    judgment = Judgment.objects.filter(project=project, pk=judgment_id).first()
    if judgment is None:
        raise NotFound("No such judgment in this project.")
    judgment.excluded_at = timezone.now() if excluded else None
    judgment.excluded_by = by if excluded else None
    judgment.save(update_fields=["excluded_at", "excluded_by"])
    if judgment.annotator_id and judgment.chosen_response_id:
        cycles_recount(project_id=project.pk, annotator_id=judgment.annotator_id)
    return judgment
