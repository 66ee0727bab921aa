"""Keeping each annotator's count of intransitive triads current. A new preference w≻l closes
one triad for every x with l≻x and x≻w among the annotator's own judgments, so storing a
judgment costs one indexed query instead of a recount."""

from django.db.models import F

from apps.feedback.models import Judgment
from apps.projects.models import Membership
from apps.quality.metrics import directed_three_cycles


def _own_edges(*, project_id: int, annotator_id: int):
    return Judgment.objects.filter(
        project_id=project_id,
        annotator_id=annotator_id,
        excluded_at__isnull=True,
        chosen_response__isnull=False,
    )


def cycles_after_new_judgment(judgment: Judgment) -> None:
    """Call in the transaction that stores `judgment`."""
    if judgment.annotator_id is None or judgment.chosen_response_id is None:
        return
    edges = _own_edges(project_id=judgment.project_id, annotator_id=judgment.annotator_id).exclude(
        pk=judgment.pk
    )
    # x such that l≻x ...
    beaten_by_loser = edges.filter(chosen_response_id=judgment.rejected_response_id).values(
        "rejected_response_id"
    )
    # ... and x≻w
    closed = edges.filter(
        chosen_response_id__in=beaten_by_loser, rejected_response_id=judgment.chosen_response_id
    ).count()
    if closed:
        Membership.objects.filter(
            project_id=judgment.project_id, user_id=judgment.annotator_id
        ).update(intransitive_cycles=F("intransitive_cycles") + closed)


def cycles_recount(*, project_id: int, annotator_id: int) -> int:
    """A full recount, for when a judgment is excluded or included again."""
    pairs = _own_edges(project_id=project_id, annotator_id=annotator_id).values_list(
        "chosen_response_id", "rejected_response_id"
    )
    count = directed_three_cycles(pairs)
    Membership.objects.filter(project_id=project_id, user_id=annotator_id).update(
        intransitive_cycles=count
    )
    return count
