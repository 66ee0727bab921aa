"""Keeping the dashboard rollups (apps/dashboard/models.py) up to date.

Every change is applied inside the transaction that makes it, and touches only rows of the
annotator who acts (counters by hour, their share of the agreement totals) and of the task
concerned (its agreement unit, whose task row the caller holds locked): no row that every
annotator of a project writes. `rollups_recount` rebuilds a project's rollups from scratch."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.dashboard.models import AgreementShard, AgreementUnit, JudgmentRollup, TaskStateCount
from apps.feedback.models import Judgment, Phase
from apps.projects.models import FeedbackKind, Project

COUNTERS = (
    "n",
    "excluded",
    "decisive",
    "first_wins",
    "gold_total",
    "gold_correct",
    "duration_n",
    "duration_ms_sum",
)
SHARD_TOTALS = ("units", "n", "s", "s2", "observed")
GOLD_KEY = {
    FeedbackKind.PAIRWISE: "choice",
    FeedbackKind.HINDSIGHT: "choice",
    FeedbackKind.THUMBS: "labels",
    FeedbackKind.LISTWISE: "ranks",
}


def final_phase_of(project: Project) -> str:
    return Phase.HINDSIGHT if project.kind == FeedbackKind.HINDSIGHT else Phase.MAIN


def rollup_hour(moment):
    """The hour a judgment's rollup row counts it in."""
    return timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)


def _rollup_key(project: Project, judgment: Judgment) -> tuple:
    return (
        project.pk,
        judgment.annotator_id or 0,
        rollup_hour(judgment.submitted_at),
        judgment.kind,
        judgment.phase == final_phase_of(project),
    )


def rollup_counters(project: Project, judgment: Judgment) -> dict[str, int]:
    """What one judgment adds to its rollup row."""
    gold_total = gold_correct = 0
    key = GOLD_KEY.get(project.kind)
    if key is not None and judgment.task.is_gold:
        gold_total = 1
        answer = (judgment.payload or {}).get(key)
        gold = (judgment.task.gold_payload or {}).get(key)
        gold_correct = int(answer is not None and gold is not None and answer == gold)
    decisive = judgment.chosen_position is not None
    return {
        "n": 1,
        "excluded": int(judgment.excluded_at is not None),
        "decisive": int(decisive),
        "first_wins": int(decisive and judgment.chosen_position == judgment.first_shown_position),
        "gold_total": gold_total,
        "gold_correct": gold_correct,
        "duration_n": int(judgment.duration_ms is not None),
        "duration_ms_sum": judgment.duration_ms or 0,
    }


def _rollups_increment(rows: dict[tuple, dict[str, int]]) -> None:
    """Adds each row's counters to the stored row of its key, creating it if need be."""
    rows = {key: c for key, c in rows.items() if any(c.values())}
    if not rows:
        return
    table = JudgmentRollup._meta.db_table
    columns = ["project_id", "annotator_key", "hour", "kind", "final", *COUNTERS]
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    params = [v for key, c in sorted(rows.items()) for v in (*key, *(c[f] for f in COUNTERS))]
    updates = ", ".join(f"{f} = {table}.{f} + EXCLUDED.{f}" for f in COUNTERS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "
            f"ON CONFLICT (project_id, annotator_key, hour, kind, final) DO UPDATE SET {updates}",
            params,
        )


def _shard_increment(*, project_id: int, annotator_key: int, delta: dict[str, float]) -> None:
    if not any(delta.values()):
        return
    table = AgreementShard._meta.db_table
    updates = ", ".join(f"{f} = {table}.{f} + EXCLUDED.{f}" for f in SHARD_TOTALS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, annotator_key, {', '.join(SHARD_TOTALS)}) "
            f"VALUES (%s, %s, {', '.join(['%s'] * len(SHARD_TOTALS))}) "
            f"ON CONFLICT (project_id, annotator_key) DO UPDATE SET {updates}",
            [project_id, annotator_key, *(delta[f] for f in SHARD_TOTALS)],
        )


def _unit_terms(m: int, s: float, s2: float) -> dict[str, float]:
    """A unit's part of the alpha totals (apps/quality/metrics.py alpha_from_totals)."""
    if m < 2:
        return dict.fromkeys(SHARD_TOTALS, 0)
    return {"units": 1, "n": m, "s": s, "s2": s2, "observed": 2 * (m * s2 - s * s) / (m - 1)}


def _unit_judgments(project: Project):
    """The judgments that count toward agreement: counted, not on gold tasks, with a value."""
    from apps.dashboard.selectors import counted_judgments

    return counted_judgments(project).filter(task__is_gold=False, signed_strength__isnull=False)


def units_refresh(*, project: Project, task_ids: Iterable[int], annotator_key: int) -> None:
    """Recounts the agreement units of these tasks (whose rows the caller holds locked) and adds
    the change of their terms to the acting annotator's shard."""
    ids = sorted(set(task_ids))
    if not ids or project.kind not in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT):
        return
    delta = dict.fromkeys(SHARD_TOTALS, 0.0)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        new = {
            task_id: (m, float(s or 0), float(s2 or 0))
            for task_id, m, s, s2 in _unit_judgments(project)
            .filter(task_id__in=chunk)
            .values("task_id")
            .annotate(
                m=Count("pk"),
                s=Sum("signed_strength"),
                s2=Sum(F("signed_strength") * F("signed_strength")),
            )
            .values_list("task_id", "m", "s", "s2")
        }
        old = {u.task_id: (u.m, u.s, u.s2) for u in AgreementUnit.objects.filter(task_id__in=chunk)}
        changed = []
        for task_id in chunk:
            before, after = old.get(task_id, (0, 0.0, 0.0)), new.get(task_id, (0, 0.0, 0.0))
            if before == after:
                continue
            for name, value in _unit_terms(*after).items():
                delta[name] += value
            for name, value in _unit_terms(*before).items():
                delta[name] -= value
            m, s, s2 = after
            changed.append(AgreementUnit(task_id=task_id, project=project, m=m, s=s, s2=s2))
        AgreementUnit.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["task"], update_fields=["m", "s", "s2"]
        )
    _shard_increment(project_id=project.pk, annotator_key=annotator_key, delta=delta)


def rollups_judgments_added(*, project: Project, judgments: Iterable[Judgment]) -> None:
    """Counts newly stored judgments of the project (their tasks locked by the caller, or new)."""
    rows: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    units: dict[int, set[int]] = defaultdict(set)
    for judgment in judgments:
        for name, value in rollup_counters(project, judgment).items():
            rows[_rollup_key(project, judgment)][name] += value
        if judgment.signed_strength is not None and judgment.phase == final_phase_of(project):
            units[judgment.annotator_id or 0].add(judgment.task_id)
    _rollups_increment(rows)
    for annotator_key, task_ids in units.items():
        units_refresh(project=project, task_ids=task_ids, annotator_key=annotator_key)


def rollups_judgment_exclusion_changed(*, project: Project, judgment: Judgment) -> None:
    """After a judgment's exclusion was set or lifted (a real change): its counters and unit."""
    rows = {_rollup_key(project, judgment): dict.fromkeys(COUNTERS, 0)}
    rows[_rollup_key(project, judgment)]["excluded"] = 1 if judgment.excluded_at else -1
    _rollups_increment(rows)
    units_refresh(
        project=project, task_ids=[judgment.task_id], annotator_key=judgment.annotator_id or 0
    )


def rollups_annotator_counting_changed(*, project: Project, annotator_id: int) -> None:
    """After an annotator's labels started or stopped counting (exclusion, qualification): the
    units of their tasks. Their counters need nothing: the overview reads membership state."""
    task_ids = Judgment.objects.filter(
        project=project, annotator_id=annotator_id, signed_strength__isnull=False
    ).values_list("task_id", flat=True)
    units_refresh(project=project, task_ids=list(task_ids), annotator_key=annotator_id)


@transaction.atomic
def rollups_recount(*, project: Project) -> None:
    """Rebuilds the project's rollups from its judgments and tasks: counters grouped in the
    database, agreement units written by one INSERT … SELECT, their totals into one shard, the
    tasks per judgment count into shard 0."""
    JudgmentRollup.objects.filter(project=project).delete()
    AgreementUnit.objects.filter(project=project).delete()
    AgreementShard.objects.filter(project=project).delete()
    TaskStateCount.objects.filter(project=project).delete()
    TaskStateCount.objects.bulk_create(
        TaskStateCount(project=project, shard=0, judgment_count=count, tasks=tasks)
        for count, tasks in project.tasks.values_list("judgment_count")
        .annotate(tasks=Count("pk"))
        .order_by()
    )
    aggregates = {
        "n": Count("pk"),
        "excluded": Count("pk", filter=Q(excluded_at__isnull=False)),
        "decisive": Count("pk", filter=Q(chosen_position__isnull=False)),
        "first_wins": Count("pk", filter=Q(chosen_position=F("first_shown_position"))),
        "duration_n": Count("duration_ms"),
        "duration_ms_sum": Sum("duration_ms"),
    }
    key = GOLD_KEY.get(project.kind)
    if key is not None:
        aggregates["gold_total"] = Count("pk", filter=Q(task__is_gold=True))
        aggregates["gold_correct"] = Count(
            "pk", filter=Q(task__is_gold=True, answer=F("gold_answer"))
        )
    final = final_phase_of(project)
    rollups = []
    for is_final, judgments in (
        (True, Judgment.objects.filter(project=project, phase=final)),
        (False, Judgment.objects.filter(project=project).exclude(phase=final)),
    ):
        if key is not None:
            judgments = judgments.annotate(
                answer=KeyTextTransform(key, "payload"),
                gold_answer=KeyTextTransform(key, "task__gold_payload"),
            )
        grouped = (
            judgments.annotate(hour=TruncHour("submitted_at"))
            .values("annotator_id", "hour", "kind")
            .annotate(**aggregates)
            .order_by()
        )
        for row in grouped:
            rollups.append(
                JudgmentRollup(
                    project=project,
                    annotator_key=row.pop("annotator_id") or 0,
                    final=is_final,
                    **{name: row[name] or 0 for name in COUNTERS if name in row},
                    hour=row["hour"],
                    kind=row["kind"],
                )
            )
    JudgmentRollup.objects.bulk_create(rollups, batch_size=5000)
    if project.kind not in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT):
        return
    units = (
        _unit_judgments(project)
        .values("task_id")
        .annotate(
            m=Count("pk"),
            s=Sum("signed_strength"),
            s2=Sum(F("signed_strength") * F("signed_strength")),
        )
        .values("task_id", "m", "s", "s2")
        .order_by()
    )
    sql, params = units.query.sql_with_params()
    unit_table, shard_table = AgreementUnit._meta.db_table, AgreementShard._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {unit_table} (task_id, project_id, m, s, s2) "
            f"SELECT u.task_id, %s, u.m, u.s, u.s2 FROM ({sql}) AS u",
            [project.pk, *params],
        )
        cursor.execute(
            f"INSERT INTO {shard_table} (project_id, annotator_key, {', '.join(SHARD_TOTALS)}) "
            "SELECT %s, 0, COUNT(*), COALESCE(SUM(m), 0), COALESCE(SUM(s), 0), "
            "COALESCE(SUM(s2), 0), COALESCE(SUM(2.0 * (m * s2 - s * s) / (m - 1)), 0) "
            f"FROM {unit_table} WHERE project_id = %s AND m >= 2",
            [project.pk, project.pk],
        )
