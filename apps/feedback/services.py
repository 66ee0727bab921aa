"""Storing judgments. A judgment is written once per task, annotator and phase; a repeated
submission (double click, retry after a network error) returns the stored one."""

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.core import events, prepared
from apps.core.errors import ApplicationError, Conflict, PermissionDenied
from apps.core.events import EventName
from apps.core.lean import LeanRead, model_columns, model_from_row
from apps.core.prepared import Statement
from apps.dashboard.services import rollup_counters, rollup_hour, rollups_judgments_added
from apps.feedback.facts import derived_facts
from apps.feedback.models import Judgment, Phase
from apps.feedback.payloads import TaskShape, validate_payload
from apps.feedback.rewrites import (
    InvalidWrittenResponse,
    word_edit_distance,
    words,
    written_response_clean,
)
from apps.labeling.models import Assignment, AssignmentStatus, Task
from apps.labeling.services import (
    EXCLUDED_MESSAGE,
    _own_assignment_locked,
    lease_duration,
    task_has_free_slot,
)
from apps.labeling.sql import submit_statement
from apps.projects.models import CritiquePolicy, FeedbackKind, Membership, Project
from apps.quality.cycles import cycles_after_new_judgment


@dataclass(frozen=True)
class Submission:
    judgment: Judgment
    created: bool


def task_items(*, task: Task) -> list[tuple[int, int, str]]:
    """(position, response id, text) of the task's responses, in canonical order."""
    return list(
        task.items.order_by("position").values_list("position", "response_id", "response__text")
    )


def task_shape(*, task: Task, items: list[tuple[int, int, str]] | None = None) -> TaskShape:
    """What a payload for this task is checked against (principles only matter, and are only
    read, for principle projects)."""
    project = task.project
    items = items if items is not None else task_items(task=task)
    principles = (
        project.principles.filter(is_current=True).values_list("pk", flat=True)
        if project.kind == FeedbackKind.PRINCIPLES
        else []
    )
    return TaskShape(
        response_texts=tuple(text for _, _, text in items),
        principle_ids=frozenset(principles),
        rubric_item_ids=frozenset(
            project.rubric_items.filter(is_active=True).values_list("pk", flat=True)
        ),
    )


def _check_critique(*, project: Project, critique: str) -> str:
    critique = (critique or "").strip()
    if project.critique_policy == CritiquePolicy.OFF and critique:
        raise ApplicationError("This project takes no critiques.")
    if project.critique_policy == CritiquePolicy.REQUIRED and len(critique) < max(
        1, project.critique_min_length
    ):
        raise ApplicationError(
            f"A critique of at least {max(1, project.critique_min_length)} characters is required."
        )
    if critique and len(critique) < project.critique_min_length:
        raise ApplicationError(
            f"A critique must be at least {project.critique_min_length} characters."
        )
    return critique


@dataclass(frozen=True)
class Written:
    """What a judgment stores of the annotator's own response."""

    text: str = ""
    edited_response_id: int | None = None
    edit_distance: float | None = None


def _editable_positions(*, normal: dict, size: int) -> set[int]:
    """The responses a rewrite may edit: the chosen one (a pairwise A or B, a listwise first
    rank), else any of the task's (a tie, both bad, a single response)."""
    choice = normal.get("choice")
    if choice in ("A", "B"):
        return {"AB".index(choice)}
    ranks = normal.get("ranks")
    if ranks:
        return {position for position, rank in enumerate(ranks) if rank == 1}
    return set(range(size))


def _check_written(
    *,
    project: Project,
    normal: dict,
    items: list[tuple[int, int, str]],
    written_response: object,
    edited_position: object,
) -> Written:
    """The demonstration or rewrite that goes with the judgment, checked against the project
    and the task; an empty text with a position is an edit the annotator cancelled."""
    if project.kind == FeedbackKind.DEMONSTRATION:
        text = written_response_clean(written_response, what="demonstration")
        if not text:
            raise InvalidWrittenResponse("Write the response: a demonstration cannot be empty.")
        if edited_position is not None:
            raise InvalidWrittenResponse("A demonstration is written from scratch; it edits none.")
        return Written(text=text)
    text = written_response_clean(written_response, what="rewrite")
    if not text:
        return Written()
    if not project.allow_rewrite:
        raise InvalidWrittenResponse("This project takes no rewrites.")
    if edited_position is None and len(items) == 1:
        edited_position = 0
    if isinstance(edited_position, bool) or not isinstance(edited_position, int):
        raise InvalidWrittenResponse("Say which response the rewrite edits (its position).")
    if not 0 <= edited_position < len(items):
        raise InvalidWrittenResponse(
            f"The edited response must be a position from 0 to {len(items) - 1}."
        )
    if edited_position not in _editable_positions(normal=normal, size=len(items)):
        raise InvalidWrittenResponse("Only the response you chose as best can be rewritten.")
    _, response_id, original = items[edited_position]
    if words(text) == words(original):
        raise InvalidWrittenResponse(
            "The rewrite changes no word of the response; change it or cancel the edit."
        )
    return Written(
        text=text,
        edited_response_id=response_id,
        edit_distance=word_edit_distance(original, text),
    )


def _phase_for(*, project: Project, assignment: Assignment) -> str:
    if project.kind != FeedbackKind.HINDSIGHT:
        return Phase.MAIN
    has_foresight = Judgment.objects.filter(
        task_id=assignment.task_id, annotator_id=assignment.annotator_id, phase=Phase.FORESIGHT
    ).exists()
    return Phase.HINDSIGHT if has_foresight else Phase.FORESIGHT


def _time_on_task_ms(*, started_at: datetime, client_ms: int | None, now: datetime) -> int:
    """The browser's measure of time on task, bounded by the server's clock since it started."""
    server_ms = max(0, int((now - started_at).total_seconds() * 1000))
    if client_ms is None or client_ms < 0:
        return server_ms
    return min(int(client_ms), server_ms)


def _judgment_fields(
    *,
    project: Project,
    assignment: Assignment,
    task: Task,
    annotator: User,
    items: list[tuple[int, int, str]],
    normal: dict,
    critique: str,
    written: Written,
    started_at: datetime,
    client_ms: int | None,
    now: datetime,
) -> dict:
    """A new judgment's fields, the same on the one-statement path and the ORM path."""
    position_of = {response_id: position for position, response_id, _ in items}
    return {
        **derived_facts(
            payload=normal, display_order=assignment.display_order, position_of=position_of
        ),
        "project": project,
        "task": task,
        "annotator": annotator,
        "assignment": assignment,
        "kind": project.kind,
        "payload": normal,
        "critique": critique,
        "written_response": written.text,
        "edited_response_id": written.edited_response_id,
        "edit_distance": written.edit_distance,
        "display_order": assignment.display_order,
        "started_at": started_at,
        "duration_ms": _time_on_task_ms(started_at=started_at, client_ms=client_ms, now=now),
    }


def _ensure_lease_usable(*, assignment: Assignment, task: Task, now: datetime) -> None:
    if assignment.status == AssignmentStatus.SKIPPED:
        raise Conflict("You skipped this task; it can no longer be judged.")
    if task.judgment_count >= assignment.project.overlap:
        # Filled meanwhile: an excluded label counted again, or the overlap was lowered.
        raise Conflict(
            "This task already has all the judgments it needs; nothing was stored for it. "
            "Your earlier judgments are safe."
        )
    lapsed = assignment.status == AssignmentStatus.EXPIRED or assignment.expires_at <= now
    # A late answer is still taken while nobody else holds the slot: nothing is lost for free.
    if lapsed and not task_has_free_slot(
        task=task, overlap=assignment.project.overlap, now=now, exclude_assignment_id=assignment.pk
    ):
        raise Conflict(
            "Your lease on this task expired and the task went to another annotator; "
            "nothing was stored for it. Your earlier judgments are safe."
        )


def judgment_submit(
    *,
    assignment_id: int,
    annotator: User,
    payload: object,
    critique: str = "",
    duration_ms: int | None = None,
    phase: str | None = None,
    written_response: str = "",
    edited_position: int | None = None,
    lease: Assignment | None = None,
) -> Submission:
    """Stores the annotator's judgment for the leased task. The phase follows from the kind and
    what is stored; a client that names the phase it answers makes a resubmission idempotent.
    `written_response` is a demonstration (demonstration projects) or, with `edited_position`
    (canonical, 0 = A; implied for a single response), a rewrite of the chosen response.
    `lease` is the lease as `lease_read()` read it along with the caller's token (PostgreSQL),
    so that it is not read again."""
    if connection.vendor == "postgresql" and phase in (None, "", Phase.MAIN):
        stored = _judgment_submit_in_one_statement(
            assignment_id=assignment_id,
            annotator=annotator,
            lease=lease,
            payload=payload,
            critique=critique,
            duration_ms=duration_ms,
            written_response=written_response,
            edited_position=edited_position,
        )
        if stored is not None:
            return stored
    try:
        return _judgment_submit(
            assignment_id=assignment_id,
            annotator=annotator,
            payload=payload,
            critique=critique,
            duration_ms=duration_ms,
            phase=phase,
            written_response=written_response,
            edited_position=edited_position,
        )
    except IntegrityError:
        # A concurrent twin of this submission won the unique constraint: answer with its row.
        assignment = Assignment.objects.get(pk=assignment_id, annotator=annotator)
        judgment = (
            Judgment.objects.filter(task_id=assignment.task_id, annotator=annotator)
            .order_by("-id")
            .first()
        )
        if judgment is None:
            raise
        return Submission(judgment=judgment, created=False)


_ITEMS_SQL = """(
    SELECT coalesce(jsonb_agg(jsonb_build_array(i.position, i.response_id, r.text)
                              ORDER BY i.position), '[]'::jsonb)
    FROM labeling_taskitem i JOIN corpus_response r ON r.id = i.response_id
    WHERE i.task_id = labeling_assignment.task_id)"""
_RUBRIC_SQL = """(
    SELECT coalesce(jsonb_agg(ri.id), '[]'::jsonb) FROM projects_rubricitem ri
    WHERE ri.project_id = labeling_assignment.project_id AND ri.is_active)"""
_JUDGMENT_FIELDS = [f for f in Judgment._meta.concrete_fields if not f.primary_key]
# Typed, so that a prepared statement (whose parameters PostgreSQL types from their use; an
# INSERT ... SELECT list gives none) takes each as its column's type; without a length, which
# a cast would silently truncate to where an insert refuses.
_JUDGMENT_VALUES = tuple(
    f"%(j{i})s::{re.sub(r'[(].*[)]', '', f.db_type(connection))}"
    for i, f in enumerate(_JUDGMENT_FIELDS)
)


@functools.cache
def _uncounted_sql_and_params() -> tuple[str, tuple]:
    """`Membership.objects.uncounted()` (the one place that says whose labels do not count) as
    SQL, compiled once."""
    query = Membership.objects.uncounted().values("project_id", "user_id").query
    return query.sql_with_params()


def _uncounted_params() -> tuple:
    return _uncounted_sql_and_params()[1]


@functools.cache
def _lease_read_statement() -> Statement:
    return Statement(_lease_read_sql(annotator="%s"))


def lease_read() -> LeanRead:
    """The lease of the submit's `assignment_id`, if it is the token's user's, read with the
    token (apps/core/lean.py): what `judgment_submit(lease=...)` takes."""
    annotator = f'u."{User._meta.pk.column}"'  # the token's user (apps/core/lean.py)
    return LeanRead(
        join=f"LEFT JOIN LATERAL ({_lease_read_sql(annotator=annotator)}) AS lease ON true",
        columns="lease.*",
        params=lambda kwargs: [*_uncounted_params(), kwargs["assignment_id"]],
        build=lambda values: None if values[0] is None else _lease_from_row(values),
    )


@functools.cache
def _lease_read_sql(*, annotator: str) -> str:
    """The lease with its project and task, whether its annotator is excluded or uncounted,
    the task's responses and the project's rubric ids: the ORM query with select_related and
    four annotations this replaced, written out once (its compilation cost more than its run).
    Parameters: the uncounted rule's, then the assignment id; `annotator` is the SQL of the
    annotator's id."""
    uncounted = _uncounted_sql_and_params()[0]
    return f"""
SELECT {model_columns(Assignment, "labeling_assignment")},
       {model_columns(Project, "p")},
       {model_columns(Task, "t")},
       EXISTS (SELECT 1 FROM projects_membership m
               WHERE m.project_id = labeling_assignment.project_id
                 AND m.user_id = labeling_assignment.annotator_id
                 AND m.excluded_at IS NOT NULL),
       EXISTS (SELECT 1 FROM ({uncounted}) u
               WHERE u.project_id = labeling_assignment.project_id
                 AND u.user_id = labeling_assignment.annotator_id),
       {_ITEMS_SQL}::text,
       {_RUBRIC_SQL}::text
FROM labeling_assignment
JOIN projects_project p ON p.id = labeling_assignment.project_id
JOIN labeling_task t ON t.id = labeling_assignment.task_id
WHERE labeling_assignment.id = %s AND labeling_assignment.annotator_id = {annotator}
"""


def _lease_fetch(assignment_id: int, annotator: User) -> Assignment | None:
    with connection.cursor() as cursor:
        prepared.execute(
            cursor, _lease_read_statement(), [*_uncounted_params(), assignment_id, annotator.pk]
        )
        row = cursor.fetchone()
    return _lease_from_row(row) if row is not None else None


def _lease_from_row(row) -> Assignment:
    n_assignment = len(Assignment._meta.concrete_fields)
    n_project = len(Project._meta.concrete_fields)
    n_task = len(Task._meta.concrete_fields)
    at = 0
    assignment = model_from_row(Assignment, row[at : at + n_assignment])
    at += n_assignment
    assignment.project = model_from_row(Project, row[at : at + n_project])
    at += n_project
    assignment.task = model_from_row(Task, row[at : at + n_task])
    at += n_task
    excluded, uncounted, items, rubric = row[at:]
    assignment.annotator_excluded = excluded
    assignment.annotator_uncounted = uncounted
    assignment.task_items = json.loads(items)
    assignment.rubric_ids = json.loads(rubric)
    return assignment


def _judgment_submit_in_one_statement(
    *,
    assignment_id,
    annotator,
    lease,
    payload,
    critique,
    duration_ms,
    written_response,
    edited_position,
) -> Submission | None:
    """judgment_submit's usual case on PostgreSQL (a live lease of a main-phase task) in two
    statements: one read of what the payload is checked against, and one write
    (apps/labeling/sql.py SUBMIT_SQL) that locks the lease and the task, re-checks them, stores
    the judgment, closes the lease, fills the slot and updates the dashboard rollups and the
    annotator's triad count. None when the case is not that one, or the lease or task changed
    in between: the caller then takes the ORM path, which says why (or finds the stored twin)."""
    now = timezone.now()
    assignment = lease if lease is not None else _lease_fetch(assignment_id, annotator)
    if assignment is None or assignment.pk != assignment_id:
        return None
    project, task = assignment.project, assignment.task
    if (
        project.kind in (FeedbackKind.HINDSIGHT, FeedbackKind.PRINCIPLES)
        or assignment.status != AssignmentStatus.ACTIVE
        or assignment.expires_at <= now
        or assignment.annotator_excluded
        or task.judgment_count >= project.overlap
    ):
        return None
    items = [tuple(item) for item in assignment.task_items]
    shape = TaskShape(
        response_texts=tuple(text for _, _, text in items),
        principle_ids=frozenset(),
        rubric_item_ids=frozenset(assignment.rubric_ids),
    )
    normal = validate_payload(kind=project.kind, payload=payload, shape=shape)
    critique = _check_critique(project=project, critique=critique)
    written = _check_written(
        project=project,
        normal=normal,
        items=items,
        written_response=written_response,
        edited_position=edited_position,
    )
    judgment = Judgment(
        **_judgment_fields(
            project=project,
            assignment=assignment,
            task=task,
            annotator=annotator,
            items=items,
            normal=normal,
            critique=critique,
            written=written,
            started_at=assignment.created_at,
            client_ms=duration_ms,
            now=now,
        ),
        phase=Phase.MAIN,
        submitted_at=now,
    )
    counts = not assignment.annotator_uncounted
    counters = rollup_counters(project, judgment)
    params = {
        "assignment": assignment.pk,
        "annotator": annotator.pk,
        "project": project.pk,
        "now": now,
        "overlap": project.overlap,
        "counts": counts,
        "hour": rollup_hour(judgment.submitted_at),
        "kind": project.kind,
        "final": True,
        "strength": judgment.signed_strength,
        "in_unit": (
            counts
            and project.kind == FeedbackKind.PAIRWISE
            and not task.is_gold
            and judgment.signed_strength is not None
        ),
        "winner": judgment.chosen_response_id,
        "loser": judgment.rejected_response_id,
    }
    for i, f in enumerate(_JUDGMENT_FIELDS):
        params[f"j{i}"] = f.get_db_prep_save(getattr(judgment, f.attname), connection)
    for name, value in counters.items():
        params[f"c_{name}"] = value
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            submit_statement(
                columns=tuple(f.column for f in _JUDGMENT_FIELDS),
                values=_JUDGMENT_VALUES,
                counters=tuple(counters),
            ),
            params,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    judgment.pk, count_before = row
    judgment._state.adding = False
    judgment._state.db = connection.alias
    _announce(
        project=project, judgment=judgment, task=task, count=count_before + counts, counted=counts
    )
    return Submission(judgment=judgment, created=True)


@transaction.atomic
def _judgment_submit(
    *,
    assignment_id,
    annotator,
    payload,
    critique,
    duration_ms,
    phase,
    written_response,
    edited_position,
) -> Submission:
    now = timezone.now()
    assignment = _own_assignment_locked(assignment_id=assignment_id, annotator=annotator)
    project = assignment.project
    if assignment.status == AssignmentStatus.SUBMITTED:
        stored = (
            Judgment.objects.filter(task_id=assignment.task_id, annotator=annotator)
            .order_by("-id")
            .first()
        )
        return Submission(judgment=stored, created=False)
    if assignment.annotator_excluded:
        # Their leases were released when they were excluded; a late answer must not fill one.
        raise PermissionDenied(EXCLUDED_MESSAGE)
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=assignment.task_id)
    )
    _ensure_lease_usable(assignment=assignment, task=task, now=now)
    items = task_items(task=task)
    normal = validate_payload(
        kind=project.kind, payload=payload, shape=task_shape(task=task, items=items)
    )
    critique = _check_critique(project=project, critique=critique)
    written = _check_written(
        project=project,
        normal=normal,
        items=items,
        written_response=written_response,
        edited_position=edited_position,
    )
    expected = _phase_for(project=project, assignment=assignment)
    if phase and phase != expected:
        stored = Judgment.objects.filter(task=task, annotator=annotator, phase=phase).first()
        if stored is not None:
            return Submission(judgment=stored, created=False)
        raise Conflict(f"This task expects its {expected} judgment now, not a {phase} one.")
    phase = expected
    previous = None
    started_at = assignment.created_at
    if phase == Phase.HINDSIGHT:
        previous = Judgment.objects.get(task=task, annotator=annotator, phase=Phase.FORESIGHT)
        started_at = previous.submitted_at  # the hindsight phase starts when the consequence shows
    judgment = Judgment.objects.create(
        **_judgment_fields(
            project=project,
            assignment=assignment,
            task=task,
            annotator=annotator,
            items=items,
            normal=normal,
            critique=critique,
            written=written,
            started_at=started_at,
            client_ms=duration_ms,
            now=now,
        ),
        phase=phase,
        previous=previous,
    )
    # The task row is locked: its agreement unit and this annotator's counters, nobody else's.
    rollups_judgments_added(project=project, judgments=[judgment])
    if phase == Phase.FORESIGHT:
        # The task stays leased for the hindsight phase, which follows the revealed consequence.
        assignment.status, assignment.expires_at = (
            AssignmentStatus.ACTIVE,
            now + lease_duration(project),
        )
        assignment.save(update_fields=["status", "expires_at"])
        return Submission(judgment=judgment, created=True)
    assignment.status, assignment.finished_at = AssignmentStatus.SUBMITTED, now
    assignment.save(update_fields=["status", "finished_at"])
    # A label that does not count (its annotator is still qualifying) fills no slot.
    counts = not assignment.annotator_uncounted
    if counts:
        Task.objects.filter(pk=task.pk).update(judgment_count=F("judgment_count") + 1)
    cycles_after_new_judgment(judgment)
    # The task row is locked, so its count plus this judgment is exact.
    _announce(
        project=project,
        judgment=judgment,
        task=task,
        count=task.judgment_count + counts,
        counted=counts,
    )
    return Submission(judgment=judgment, created=True)


def _announce(
    *, project: Project, judgment: Judgment, task: Task, count: int, counted: bool = True
) -> None:
    """Domain events, heard by subscribers (webhooks, ...) once the judgment commits."""
    events.emit(
        EventName.JUDGMENT_SUBMITTED,
        project_id=project.pk,
        payload={
            "judgment": judgment.pk,
            "task": judgment.task_id,
            "annotator": judgment.annotator_id,
            "kind": judgment.kind,
            "phase": judgment.phase,
            "payload": judgment.payload,
            "submitted_at": judgment.submitted_at.isoformat() if judgment.submitted_at else None,
            # False while the annotator's labels do not count (still qualifying).
            "counted": counted,
        },
    )
    if count == project.overlap:
        events.emit(
            EventName.TASK_COMPLETED,
            project_id=project.pk,
            payload={
                "task": task.pk,
                "prompt": task.prompt_id,
                "kind": task.kind,
                "judgment_count": count,
            },
        )
