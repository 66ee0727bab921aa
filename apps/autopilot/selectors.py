"""Reads: the champion that serves, what a rule waits for, the loop's timeline."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
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


def counted_labels(*, project: Project, after_id: int):
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
