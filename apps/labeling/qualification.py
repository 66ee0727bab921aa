"""Qualification: a new annotator of a project that asks for it first answers gold tasks only;
once they have answered `project.qualification_tasks` of them, they pass (their labels count
from then on) or fail (they get no more tasks, and their labels never count).

Whose labels count is said once, by `Membership.objects.uncounted()`; this module only moves a
membership from pending to passed or failed."""

from django.utils import timezone

from apps.feedback.models import Judgment, Phase
from apps.projects.models import Membership, Project, Qualification
from apps.quality.metrics import gold_matches

QUALIFICATION_FAILED_MESSAGE = (
    "You did not reach the accuracy this project asks for on its qualification tasks, so it "
    "gives you no more tasks; ask its admins if you think this is a mistake."
)


def _gold_answers(*, project: Project):
    return (
        Judgment.objects.filter(
            project=project,
            task__is_gold=True,
            task__gold_payload__isnull=False,
            excluded_at__isnull=True,
        )
        .exclude(phase=Phase.FORESIGHT)
        .select_related("task")
        .only("pk", "annotator_id", "kind", "payload", "task__gold_payload")
        .order_by("pk")
    )


def qualification_answers(*, project: Project, annotator_id: int) -> list[tuple[bool, int]]:
    """The annotator's first answers to gold tasks with a known answer, up to the
    qualification's size: (right?, judgment id) in the order given."""
    answers = _gold_answers(project=project).filter(annotator_id=annotator_id)
    return [
        (gold_matches(j.kind, j.payload, j.task.gold_payload or {}), j.pk)
        for j in answers[: project.qualification_tasks]
    ]


def qualification_answers_of(
    *, project: Project, annotator_ids: list[int]
) -> dict[int, list[tuple[bool, int]]]:
    """`qualification_answers` of several annotators, in one query."""
    found: dict[int, list[tuple[bool, int]]] = {}
    if not annotator_ids:
        return found
    for j in _gold_answers(project=project).filter(annotator_id__in=annotator_ids):
        answers = found.setdefault(j.annotator_id, [])
        if len(answers) < project.qualification_tasks:
            answers.append((gold_matches(j.kind, j.payload, j.task.gold_payload or {}), j.pk))
    return found


def membership_qualification_evaluate(*, project: Project, membership: Membership) -> str:
    """Call with the membership row locked. A pending membership whose holder has answered the
    whole qualification passes (accuracy reached) or fails. Returns the (new) state; on PASSED
    the caller recounts their tasks (`annotator_tasks_recount`), as their labels now count."""
    if membership.qualification != Qualification.PENDING:
        return membership.qualification
    size = project.qualification_tasks
    answers = qualification_answers(project=project, annotator_id=membership.user_id)
    if size and len(answers) < size:
        return Qualification.PENDING
    right = sum(ok for ok, _ in answers)
    passed = not size or right / size >= project.qualification_accuracy
    membership.qualification = Qualification.PASSED if passed else Qualification.FAILED
    membership.qualified_at = timezone.now() if passed else None
    membership.save(update_fields=["qualification", "qualified_at"])
    return membership.qualification
