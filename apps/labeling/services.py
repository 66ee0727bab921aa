"""Assignment: who judges which task, and when. The invariants — no task leased or judged past its
overlap, one lease per task and annotator — are held by row locks and unique constraints in
the database, not by Python."""

import json
import random
from collections.abc import Iterable
from datetime import timedelta
from itertools import combinations

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import User
from apps.core import prepared
from apps.core.errors import Conflict, NotFound, PermissionDenied
from apps.corpus.models import Prompt, Response
from apps.feedback.models import Judgment, Phase
from apps.labeling.models import Assignment, AssignmentStatus, Flag, Task, TaskItem
from apps.labeling.qualification import (
    QUALIFICATION_FAILED_MESSAGE,
    membership_qualification_evaluate,
)
from apps.labeling.selectors import annotator_tasks_taken
from apps.labeling.sql import claim_statement
from apps.projects.models import FeedbackKind, Membership, PairStrategy, Project, Qualification

_CLAIM_ATTEMPTS = 8


def lease_duration(project: Project) -> timedelta:
    return timedelta(seconds=project.lease_seconds or settings.ARBITER_LEASE_SECONDS)


def live_lease_count(*, task_id: int, now, exclude_assignment_id: int | None = None) -> int:
    qs = Assignment.objects.filter(
        task_id=task_id, status=AssignmentStatus.ACTIVE, expires_at__gt=now
    )
    if exclude_assignment_id is not None:
        qs = qs.exclude(pk=exclude_assignment_id)
    return qs.count()


def slots_taken(*, task_id: int, now, exclude_assignment_id: int | None = None) -> int:
    """Judgments plus live leases of the task, read in one statement."""
    leases = Assignment.objects.filter(
        task=OuterRef("pk"), status=AssignmentStatus.ACTIVE, expires_at__gt=now
    )
    if exclude_assignment_id is not None:
        leases = leases.exclude(pk=exclude_assignment_id)
    counted = leases.values("task").annotate(n=Count("pk")).values("n")
    return (
        Task.objects.filter(pk=task_id)
        .annotate(
            taken=F("judgment_count")
            + Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        )
        .values_list("taken", flat=True)
        .get()
    )


def task_has_free_slot(
    *, task: Task, overlap: int, now, exclude_assignment_id: int | None = None
) -> bool:
    """Call with the task row locked: judgments plus live leases stay under the overlap."""
    leases = live_lease_count(task_id=task.pk, now=now, exclude_assignment_id=exclude_assignment_id)
    return task.judgment_count + leases < overlap


def _candidate_tasks(*, project: Project, annotator: User, now, group: str = ""):
    live_leases = (
        Assignment.objects.filter(
            task=OuterRef("pk"), status=AssignmentStatus.ACTIVE, expires_at__gt=now
        )
        .values("task")
        .annotate(n=Count("pk"))
        .values("n")
    )
    seen_by_annotator = Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator)
    # Only tasks of the project's kind: a task made before a kind change (which is refused now
    # once tasks exist) would be served to a page and a payload check of the wrong kind.
    tasks = Task.objects.filter(
        project=project, kind=project.kind, judgment_count__lt=project.overlap
    )
    if project.kind == FeedbackKind.HINDSIGHT:
        # A hindsight task is ready once its consequence exists (imported, or simulated later).
        tasks = tasks.exclude(consequence="")
    # Assignment: a task reserved for an annotator or a group reaches only them.
    tasks = tasks.filter(
        Q(assignee__isnull=True) | Q(assignee=annotator), assignee_group__in=sorted({"", group})
    )
    return (
        tasks.exclude(Exists(seen_by_annotator))
        .annotate(leases=Coalesce(Subquery(live_leases, output_field=IntegerField()), Value(0)))
        .filter(judgment_count__lt=project.overlap - F("leases"))
        .order_by("priority", "id")
    )


def _lock_next_candidate(
    *,
    project: Project,
    annotator: User,
    now,
    gold: bool | None,
    skip_ids: set[int],
    group: str = "",
):
    qs = _candidate_tasks(project=project, annotator=annotator, now=now, group=group).exclude(
        pk__in=skip_ids
    )
    if gold is not None:
        qs = qs.filter(is_gold=gold)
    # SKIP LOCKED: concurrent claimers fan out over different tasks instead of queueing on one.
    return qs.select_for_update(skip_locked=True, of=("self",)).only("pk", "judgment_count").first()


def _new_lease(*, task: Task, project: Project, annotator: User, now) -> Assignment:
    response_ids = list(task.items.order_by("position").values_list("response_id", flat=True))
    random.shuffle(response_ids)  # random screen order; stored, so position bias can be measured
    return Assignment.objects.create(
        task=task,
        project=project,
        annotator=annotator,
        display_order=response_ids,
        expires_at=now + lease_duration(project),
    )


def _renew_held_lease(*, project: Project, annotator: User, now) -> Assignment | None:
    """The annotator's open lease, if any: returned as is, renewed if it expired with its slot
    still free, or closed as expired if someone else took the slot."""
    held = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(annotator=annotator, project=project, status=AssignmentStatus.ACTIVE)
        .select_related("task")
        .order_by("created_at")
        .first()
    )
    if held is not None and held.task.judgment_count >= project.overlap:
        # Filled meanwhile (an excluded annotator's labels counted again): nothing to judge.
        held.status, held.finished_at = AssignmentStatus.EXPIRED, now
        held.save(update_fields=["status", "finished_at"])
        return None
    if held is None or held.expires_at > now:
        return held
    task = Task.objects.select_for_update().get(pk=held.task_id)
    if task_has_free_slot(
        task=task, overlap=project.overlap, now=now, exclude_assignment_id=held.pk
    ):
        held.expires_at = now + lease_duration(project)
        held.save(update_fields=["expires_at"])
        return held
    held.status, held.finished_at = AssignmentStatus.EXPIRED, now
    held.save(update_fields=["status", "finished_at"])
    return None


EXCLUDED_MESSAGE = (
    "You are excluded from labeling this project; ask its admins if this is a mistake."
)


def annotator_is_excluded(*, project: Project, annotator: User, lock: bool = False) -> bool:
    memberships = Membership.objects.filter(project=project, user=annotator)
    if lock:
        memberships = memberships.select_for_update()
    return any(
        excluded_at is not None for excluded_at in memberships.values_list("excluded_at", flat=True)
    )


def _quota_reached(*, project: Project, annotator: User, quota: int | None, now) -> bool:
    """Whether the annotator's tasks in the project (judged plus leased) reached their quota.
    Exact when called with their membership row locked: their claims queue on it."""
    if quota is None:
        return False
    return annotator_tasks_taken(project=project, annotator=annotator, now=now) >= quota


def task_claim_next(*, project: Project, annotator: User) -> Assignment | None:
    """Leases the next task to the annotator, or returns None when nothing is left for them.

    Asking again while a lease is open returns the same lease, so a reload or retry never
    takes a second slot. Gold tasks are mixed in at the project's gold rate. An annotator
    excluded from the project, or who failed its qualification, gets no task
    (PermissionDenied); one still qualifying gets gold tasks only. Tasks reserved for another
    annotator or group are never served, and an annotator at their quota gets none.

    On PostgreSQL the usual cases take one statement (`_claim_in_one_statement`); the rest,
    and SQLite, take the ORM path below, which holds the same rules."""
    if connection.vendor == "postgresql" and project.kind != FeedbackKind.HINDSIGHT:
        claimed = _claim_in_one_statement(project=project, annotator=annotator)
        if claimed is not _FALLBACK:
            return claimed
    now = timezone.now()
    with transaction.atomic():
        # Locked, so that an exclusion committing meanwhile either waits for this lease (and
        # then releases it) or is seen here; and so that one annotator's claims queue here,
        # which makes their quota exact.
        terms = (
            Membership.objects.select_for_update()
            .filter(project=project, user=annotator)
            .only("pk", "user_id", "excluded_at", "group", "quota", "qualification")
            .first()
        )
        if terms is not None and terms.excluded_at is not None:
            raise PermissionDenied(EXCLUDED_MESSAGE)
        if (
            terms is not None
            and terms.qualification == Qualification.PENDING
            and membership_qualification_evaluate(project=project, membership=terms)
            == Qualification.PASSED
        ):
            annotator_tasks_recount(project=project, annotator_id=annotator.pk)
        if terms is None or terms.qualification != Qualification.FAILED:
            return _claim_locked(project=project, annotator=annotator, terms=terms, now=now)
    # Raised once the transaction that recorded the failed qualification has committed.
    raise PermissionDenied(QUALIFICATION_FAILED_MESSAGE)


_FALLBACK = object()


def _claim_in_one_statement(*, project: Project, annotator: User):
    """task_claim_next in one SQL statement (apps/labeling/sql.py): the lease, None, or
    _FALLBACK for the cases the ORM path handles. The lease carries `lease_view`, what the
    API answers with, read in the same statement."""
    want_gold = project.gold_rate > 0 and random.random() < project.gold_rate
    skip: list[int] = []
    for _ in range(_CLAIM_ATTEMPTS):
        now = timezone.now()
        with connection.cursor() as cursor:
            prepared.execute(
                cursor,
                claim_statement(),
                {
                    "project": project.pk,
                    "annotator": annotator.pk,
                    "kind": project.kind,
                    "overlap": project.overlap,
                    "now": now,
                    "expires": now + lease_duration(project),
                    "want_gold": want_gold,
                    "skip": skip,
                },
            )
            row = cursor.fetchone()
        verdict, tried, lease_id, task_id, expires_at, created_at, order = row[:7]
        if verdict == "excluded":
            raise PermissionDenied(EXCLUDED_MESSAGE)
        if verdict == "failed":
            raise PermissionDenied(QUALIFICATION_FAILED_MESSAGE)
        if verdict == "fallback":
            return _FALLBACK
        if lease_id is not None:
            kind, consequence, messages, shown = row[7:]
            assignment = Assignment(
                pk=lease_id,
                task_id=task_id,
                annotator=annotator,
                project=project,
                status=AssignmentStatus.ACTIVE,
                display_order=json.loads(order),
                created_at=created_at,
                expires_at=expires_at,
            )
            assignment._state.adding = False
            assignment._state.db = connection.alias
            assignment.lease_view = {
                "kind": kind,
                "consequence": consequence,
                "messages": json.loads(messages),
                "shown": json.loads(shown) if shown else [],
            }
            return assignment
        if verdict != "claim" or tried is None:
            return None
        skip.append(tried)  # locked, then found full by a claim committed meanwhile
    return None


def _claim_locked(
    *, project: Project, annotator: User, terms: Membership | None, now
) -> Assignment | None:
    """task_claim_next's work once the annotator's membership row (`terms`) is locked."""
    held = _renew_held_lease(project=project, annotator=annotator, now=now)
    if held is not None:
        return held
    if terms is not None and _quota_reached(
        project=project, annotator=annotator, quota=terms.quota, now=now
    ):
        return None
    group = terms.group if terms is not None else ""
    want_gold = project.gold_rate > 0 and random.random() < project.gold_rate
    order = (want_gold, not want_gold)
    if terms is not None and terms.qualification == Qualification.PENDING:
        order = (True,)  # the qualification: gold tasks only
    for gold in order:
        skip_ids: set[int] = set()
        for _ in range(_CLAIM_ATTEMPTS):
            task = _lock_next_candidate(
                project=project,
                annotator=annotator,
                now=now,
                gold=gold,
                skip_ids=skip_ids,
                group=group,
            )
            if task is None:
                break
            # Re-count under the lock, in a new statement: the candidate query's snapshot
            # may predate a lease that another claimer committed since.
            if slots_taken(task_id=task.pk, now=now) < project.overlap:
                return _new_lease(task=task, project=project, annotator=annotator, now=now)
            skip_ids.add(task.pk)
    return None


def counted_judgments() -> QuerySet[Judgment]:
    """The judgments that fill a task's overlap: final phase, not excluded themselves, and not
    by an annotator whose labels do not count (excluded from the project, or not qualified:
    `Membership.objects.uncounted()`; the same ones that export)."""
    excluded_member = Membership.objects.uncounted().filter(
        project_id=OuterRef("project_id"), user_id=OuterRef("annotator_id")
    )
    return (
        Judgment.objects.filter(excluded_at__isnull=True)
        .exclude(phase=Phase.FORESIGHT)
        .exclude(Exists(excluded_member))
    )


def task_judgment_counts_refresh(*, task_ids: Iterable[int]) -> None:
    """Sets each task's judgment_count to its counted judgments, recounted from the rows, so
    that excluding and re-including a label any number of times never drifts the count. A task
    that a label counted again fills up takes no more judgments: submit refuses them, and the
    open leases on it close when their holders ask for work (`_renew_held_lease`)."""
    ids = sorted(set(task_ids))
    if not ids:
        return
    with transaction.atomic():
        # Lock first (in id order, as claimers do), so that the recount below, a new statement,
        # sees every judgment committed by a submitter that held one of these rows.
        list(Task.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        counted = (
            counted_judgments()
            .filter(task=OuterRef("pk"))
            .values("task")
            .annotate(n=Count("pk"))
            .values("n")
        )
        Task.objects.filter(pk__in=ids).update(
            judgment_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        )


def annotator_tasks_recount(*, project: Project, annotator_id: int) -> None:
    """Recounts the overlap of every task the annotator judged in the project: call when
    whether their labels count changed (excluded, included, qualified)."""
    from apps.dashboard.services import rollups_annotator_counting_changed

    with transaction.atomic():
        task_judgment_counts_refresh(
            task_ids=Judgment.objects.filter(
                project=project, annotator_id=annotator_id
            ).values_list("task_id", flat=True)
        )
        # The tasks stay locked: their agreement units are recounted with their overlap.
        rollups_annotator_counting_changed(project=project, annotator_id=annotator_id)


def annotator_leases_release(*, project: Project, annotator_id: int) -> int:
    """Closes the annotator's open leases in the project (as expired), freeing their slots.
    Returns how many were open."""
    now = timezone.now()
    with transaction.atomic():
        open_ids = list(
            Assignment.objects.select_for_update(of=("self",))
            .filter(project=project, annotator_id=annotator_id, status=AssignmentStatus.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Assignment.objects.filter(pk__in=open_ids).update(
            status=AssignmentStatus.EXPIRED, finished_at=now
        )
    return len(open_ids)


def _own_assignment_locked(*, assignment_id: int, annotator: User) -> Assignment:
    """The annotator's lease, locked, with `annotator_excluded` and `annotator_uncounted` (their
    labels do not count toward overlap) read in the same statement."""
    excluded = Membership.objects.filter(
        project_id=OuterRef("project_id"),
        user_id=OuterRef("annotator_id"),
        excluded_at__isnull=False,
    )
    uncounted = Membership.objects.uncounted().filter(
        project_id=OuterRef("project_id"), user_id=OuterRef("annotator_id")
    )
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(pk=assignment_id, annotator=annotator)
        .select_related("project")
        .annotate(annotator_excluded=Exists(excluded), annotator_uncounted=Exists(uncounted))
        .first()
    )
    if assignment is None:
        raise NotFound("No such task lease.")
    return assignment


@transaction.atomic
def assignment_skip(*, assignment_id: int, annotator: User) -> Assignment:
    """Gives the task back; it is not offered to this annotator again."""
    assignment = _own_assignment_locked(assignment_id=assignment_id, annotator=annotator)
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise Conflict("This task is already judged; it cannot be skipped.")
    if assignment.status != AssignmentStatus.SKIPPED:
        assignment.status, assignment.finished_at = AssignmentStatus.SKIPPED, timezone.now()
        assignment.save(update_fields=["status", "finished_at"])
    return assignment


@transaction.atomic
def task_flag(*, assignment_id: int, annotator: User, reason: str, note: str = "") -> Flag:
    """Reports a problem with the task and skips it."""
    assignment = assignment_skip(assignment_id=assignment_id, annotator=annotator)
    flag, _ = Flag.objects.get_or_create(
        task_id=assignment.task_id, user=annotator, defaults={"reason": reason, "note": note}
    )
    return flag


def _pairs(n: int, *, strategy: str, limit: int, rng: random.Random) -> list[tuple[int, int]]:
    pairs = list(combinations(range(n), 2))
    if strategy == PairStrategy.SAMPLED and len(pairs) > limit:
        pairs = sorted(rng.sample(pairs, limit))
    return pairs


def task_groups_for_prompt(
    *, kind: str, n_responses: int, strategy: str, limit: int, rng: random.Random
) -> list[tuple[int, ...]]:
    """Which of a prompt's responses (by index) go together into one task, for the project kind:
    pairs for pairwise, the whole list (up to 8) for listwise, one response each for thumbs and
    principles, pairs (or a single response) for hindsight, and for a demonstration one task of
    the prompt alone (the annotator writes the response)."""
    if kind == FeedbackKind.PAIRWISE:
        return _pairs(n_responses, strategy=strategy, limit=limit, rng=rng)
    if kind == FeedbackKind.LISTWISE:
        return [tuple(range(min(n_responses, 8)))] if n_responses >= 3 else []
    if kind == FeedbackKind.HINDSIGHT:
        if n_responses == 1:
            return [(0,)]
        return _pairs(n_responses, strategy=strategy, limit=limit, rng=rng)
    if kind in (FeedbackKind.THUMBS, FeedbackKind.PRINCIPLES):
        return [(i,) for i in range(n_responses)]
    if kind == FeedbackKind.DEMONSTRATION:
        return [()]
    return []


def project_lock_for_new_tasks(*, project_id: int, kind: str) -> None:
    """Call inside the transaction that adds tasks of `kind`: locks the project row as
    project_update locks it, so the kind cannot change until that transaction ends. Refused
    (Conflict) if the project's kind is no longer `kind`."""
    current = Project.objects.select_for_update().values_list("kind", flat=True).get(pk=project_id)
    if current != kind:
        raise Conflict(
            f"The project's feedback kind changed (to {current}) while these {kind} tasks were "
            "being prepared; nothing was added."
        )


@transaction.atomic
def tasks_bulk_create(
    *,
    project: Project,
    prompt_groups: list[tuple[Prompt, list[Response], list[tuple[int, ...]], dict]],
    import_job=None,
) -> int:
    """Creates tasks and their items in bulk. Each entry: the prompt, its saved responses, the
    response index groups, and task fields (consequence, gold). Refused (Conflict) if the
    project's kind changed since the groups were made for it."""
    if not prompt_groups:
        return 0
    project_lock_for_new_tasks(project_id=project.pk, kind=project.kind)
    tasks, group_responses = [], []
    for prompt, responses, groups, fields in prompt_groups:
        for group in groups:
            tasks.append(
                Task(
                    project=project,
                    prompt=prompt,
                    kind=project.kind,
                    import_job=import_job,
                    **fields,
                )
            )
            group_responses.append([responses[i] for i in group])
    Task.objects.bulk_create(tasks, batch_size=1000)
    items = [
        TaskItem(task=task, response=response, position=position)
        for task, responses in zip(tasks, group_responses, strict=True)
        for position, response in enumerate(responses)
    ]
    TaskItem.objects.bulk_create(items, batch_size=2000)
    return len(tasks)
