"""Keeping each annotator's count of intransitive triads current. A new preference w≻l closes
one triad for every x with l≻x and x≻w among the annotator's own judgments, so storing a
judgment costs one indexed query instead of a recount."""

from django.db import connection
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


_TABLE = Judgment._meta.db_table
_CLOSED_TRIADS_SQL = f"""
    SELECT COUNT(*) FROM {_TABLE} AS x_beats_w
    JOIN {_TABLE} AS l_beats_x
      ON l_beats_x.project_id = x_beats_w.project_id
     AND l_beats_x.annotator_id = x_beats_w.annotator_id
     AND l_beats_x.rejected_response_id = x_beats_w.chosen_response_id
     AND l_beats_x.excluded_at IS NULL
    WHERE x_beats_w.project_id = %(project)s AND x_beats_w.annotator_id = %(annotator)s
      AND x_beats_w.excluded_at IS NULL AND x_beats_w.id <> %(new)s
      AND x_beats_w.rejected_response_id = %(winner)s
      AND l_beats_x.chosen_response_id = %(loser)s
"""  # the table name comes from the model; every value is a parameter


def cycles_after_new_judgment(judgment: Judgment) -> None:
    """Call in the transaction that stores `judgment`."""
    if judgment.annotator_id is None or judgment.chosen_response_id is None:
        return
    # x such that l≻x and x≻w, among the annotator's other counted judgments. Written as SQL
    # because it runs inside every decisive submit, where the ORM's query building is the cost.
    with connection.cursor() as cursor:
        cursor.execute(
            _CLOSED_TRIADS_SQL,
            {
                "project": judgment.project_id,
                "annotator": judgment.annotator_id,
                "new": judgment.pk,
                "winner": judgment.chosen_response_id,
                "loser": judgment.rejected_response_id,
            },
        )
        (closed,) = cursor.fetchone()
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
