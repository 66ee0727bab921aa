"""Reads: the champion that serves, what a rule waits for, the loop's timeline."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, Max, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.autopilot.models import Champion, ModelDecision, RuleFiring, TrainingRule
from apps.feedback.models import Judgment, Phase
from apps.projects.models import FeedbackKind, Project


def champion_run(*, project: Project | int, family: str):
    """The run that serves the project's reward model or policy, or None."""
    project_id = project if isinstance(project, int) else project.pk
    champion = (
        Champion.objects.filter(project_id=project_id, family=family).select_related("run").first()
    )
    return champion.run if champion else None


def champion_run_id(*, project_id: int, family: str) -> int | None:
    return (
        Champion.objects.filter(project_id=project_id, family=family)
        .values_list("run_id", flat=True)
        .first()
    )


def counted_labels(*, project: Project, after_id: int = 0):
    """The labels a rule counts: final-phase judgments by annotators, not excluded, not on gold
    tasks, newer than `after_id`. Served by the primary key and the (project, time) index."""
    phase = Phase.HINDSIGHT if project.kind == FeedbackKind.HINDSIGHT else Phase.MAIN
    return Judgment.objects.filter(
        project=project,
        pk__gt=after_id,
        phase=phase,
        excluded_at__isnull=True,
        task__is_gold=False,
    )


XID_SPACE = 2**32  # a row's `xmin` holds the low 32 bits of the transaction that wrote it
ROW_XID = RawSQL(f'"{Judgment._meta.db_table}"."xmin"::text::bigint', ())


def _not_before(xid_sql: str, xmin_param: str = "%s") -> str:
    """SQL: the row's transaction id is at or after the snapshot's xmin, compared modulo 2³² as
    `xmin` is stored (the rows asked about are recent, far inside the 2³¹ window). 0, 1 and 2
    (frozen, bootstrap) are old."""
    return (
        f"({xid_sql} > 2 AND mod({xid_sql} - mod({xmin_param}, {XID_SPACE}) + {XID_SPACE}, "
        f"{XID_SPACE}) < {XID_SPACE // 2})"
    )


def since_last_launch(rule: TrainingRule) -> Q:
    """The judgments that arrived after the rule's last launch (or its creation): those with a
    higher id than its watermark, and on PostgreSQL also those with a lower id (taken before the
    launch) whose transaction committed after it. The launch's snapshot saw every transaction
    older than its xmin, and listed the rows of younger ones it did see (`seen`); any other row
    of a younger transaction, in the short id range above `label_floor`, it did not see."""
    newer = Q(pk__gt=rule.label_watermark)
    horizon = rule.label_horizon
    if not horizon or connection.vendor != "postgresql":
        return newer  # SQLite writes one transaction at a time: ids are in commit order
    xid = f'"{Judgment._meta.db_table}"."xmin"::text::bigint'
    unseen = RawSQL(_not_before(xid), (horizon["xmin"],), output_field=BooleanField())
    return newer | (
        Q(unseen, pk__gt=rule.label_floor, pk__lte=rule.label_watermark)
        & ~Q(pk__in=horizon["seen"])
    )


def new_labels(*, rule: TrainingRule):
    """The labels the rule counts toward its next crossing (see `counted_labels`)."""
    return counted_labels(project=rule.project).filter(since_last_launch(rule))


def label_horizon(
    *, project: Project, after_id: int = 0, floor: int | None = 0
) -> tuple[int, dict]:
    """Where a launch taken now leaves the count: the highest id of a label the database shows
    now (or `after_id`), and on PostgreSQL the snapshot that showed it (one statement, so they
    agree): {"xmin", "xmax", "seen": the ids above `floor` it showed from transactions at or
    after its xmin; none when `floor` is None}. A transaction's subtransactions have younger ids
    than it, so rows written in a savepoint are judged as rightly as any."""
    labels = counted_labels(project=project, after_id=after_id).values("pk").order_by()
    if connection.vendor != "postgresql":
        return labels.aggregate(m=Max("pk"))["m"] or after_id, {}
    highest_sql, highest_params = labels.query.sql_with_params()
    recent = (
        counted_labels(project=project, after_id=floor or 0)
        .filter(pk__isnull=floor is None)  # no row at all
        .annotate(row_xid=ROW_XID)
        .values_list("pk", "row_xid")
        .order_by()
    )
    recent_sql, recent_params = recent.query.sql_with_params()
    snapshot_xmin = "pg_snapshot_xmin(s)::text::bigint"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {snapshot_xmin}, pg_snapshot_xmax(s)::text::bigint, "
            f"(SELECT max(c.id) FROM ({highest_sql}) AS c(id)), "
            f"ARRAY(SELECT r.id FROM ({recent_sql}) AS r(id, xid) "
            f"WHERE {_not_before('r.xid', snapshot_xmin)} ORDER BY r.id) "
            "FROM pg_current_snapshot() AS s",
            (*highest_params, *recent_params),
        )
        xmin, xmax, highest, seen = cursor.fetchone()
    return highest or after_id, {"xmin": xmin, "xmax": xmax, "seen": list(seen)}


@dataclass(frozen=True)
class RuleProgress:
    rule: TrainingRule
    new_labels: int
    ready: bool
    why: str  # the "why not yet" line, or what it is about to do


def rule_progress_all(*, project: Project, now: datetime | None = None) -> list[RuleProgress]:
    from apps.autopilot.rules import rule_evaluate

    now = now or timezone.now()
    return [rule_evaluate(rule=rule, now=now) for rule in project.training_rules.all()]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # labels | fired | run | promoted | rejected | rolled_back
    text: str
    run_id: int | None = None


def loop_timeline(*, project: Project, days: int = 7, limit: int = 200) -> list[TimelineEntry]:
    """Labels arriving (per hour), rules firing, runs ending, promotions and rejections, newest
    first."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    from apps.training.models import TrainingRun

    since = timezone.now() - timedelta(days=days)
    entries: list[TimelineEntry] = []
    hourly = (
        Judgment.objects.filter(project=project, submitted_at__gte=since)
        .annotate(hour=TruncHour("submitted_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in hourly:
        entries.append(TimelineEntry(at=row["hour"], kind="labels", text=f"{row['n']} labels"))
    for firing in RuleFiring.objects.filter(
        rule__project=project, created_at__gte=since
    ).select_related("rule"):
        entries.append(
            TimelineEntry(
                at=firing.created_at,
                kind="fired",
                text=f"Rule “{firing.rule.name}” fired ({firing.get_trigger_display().lower()}, "
                f"{firing.labels} new labels)",
                run_id=firing.run_id,
            )
        )
    for run in TrainingRun.objects.filter(project=project, created_at__gte=since).only(
        "pk", "objective", "status", "finished_at", "created_at", "metrics", "project_id"
    ):
        entries.append(
            TimelineEntry(
                at=run.finished_at or run.created_at,
                kind="run",
                text=f"Run {run.pk} ({run.objective}) {run.status}",
                run_id=run.pk,
            )
        )
    for decision in ModelDecision.objects.filter(project=project, created_at__gte=since):
        entries.append(
            TimelineEntry(
                at=decision.created_at,
                kind=decision.decision,
                text=f"{decision.get_family_display()} run {decision.run_id} "
                f"{decision.get_decision_display().lower()}: {decision.reason}",
                run_id=decision.run_id,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def decisions_for_project(*, project: Project) -> list[ModelDecision]:
    return list(
        ModelDecision.objects.filter(project=project).select_related("actor", "rule", "run")[:100]
    )


def rules_enabled():
    return (
        TrainingRule.objects.filter(enabled=True)
        .filter(Q(every_labels__isnull=False) | ~Q(cron=""))
        .select_related("project")
    )
