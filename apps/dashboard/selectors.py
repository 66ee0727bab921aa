"""The project overview in a fixed handful of queries, whatever the number of judgments: the
database aggregates, Python only arranges the results."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Least, TruncDate
from django.utils import timezone

from apps.dashboard.aggregates import Median
from apps.feedback.models import Judgment, Phase
from apps.projects.models import FeedbackKind, Membership, Project
from apps.quality.metrics import alpha_from_totals
from apps.quality.selectors import AnnotatorQuality

GOLD_KEY = {
    FeedbackKind.PAIRWISE: "choice",
    FeedbackKind.HINDSIGHT: "choice",
    FeedbackKind.THUMBS: "labels",
    FeedbackKind.LISTWISE: "ranks",
}


@dataclass
class Overview:
    project: Project
    per_day: list[dict]
    tasks: dict
    annotators: list[AnnotatorQuality]
    agreement: float | None
    agreement_units: int
    agreement_level: str
    judgments: int
    counted: int
    extra: dict = field(default_factory=dict)

    @property
    def progress_percent(self) -> int:
        needed = self.tasks["total"] * self.project.overlap
        return int(100 * (self.tasks["judged"] or 0) / needed) if needed else 0


def final_phase(project: Project) -> Q:
    return (
        Q(phase=Phase.HINDSIGHT) if project.kind == FeedbackKind.HINDSIGHT else Q(phase=Phase.MAIN)
    )


def counted_judgments(project: Project):
    """Judgments that count for figures, exports and training: final phase, not excluded, by an
    annotator whose labels count (not excluded from the project, not still qualifying)."""
    excluded_member = Membership.objects.uncounted().filter(
        project=project, user=OuterRef("annotator_id")
    )
    return (
        Judgment.objects.filter(project=project, excluded_at__isnull=True)
        .filter(final_phase(project))
        .exclude(Exists(excluded_member))
    )


def _per_day(project: Project) -> list[dict]:
    rows = (
        Judgment.objects.filter(project=project)
        .annotate(day=TruncDate("submitted_at"))
        .values("day", "kind")
        .annotate(n=Count("pk"))
        .order_by("day", "kind")
    )
    return [{"day": row["day"].isoformat(), "kind": row["kind"], "n": row["n"]} for row in rows]


def _tasks(project: Project) -> dict:
    return project.tasks.aggregate(
        total=Count("pk"),
        complete=Count("pk", filter=Q(judgment_count__gte=project.overlap)),
        started=Count("pk", filter=Q(judgment_count__gt=0, judgment_count__lt=project.overlap)),
        judged=Sum(Least("judgment_count", Value(project.overlap))),
    )


def _annotator_rows(project: Project) -> dict[int, dict]:
    since = timezone.now() - timedelta(days=1)
    aggregates = {
        "n": Count("pk"),
        "today": Count("pk", filter=Q(submitted_at__gte=since)),
        "decisive": Count("pk", filter=Q(chosen_position__isnull=False)),
        "first_wins": Count("pk", filter=Q(chosen_position=F("first_shown_position"))),
    }
    if connection.vendor == "postgresql":
        aggregates["median_ms"] = Median("duration_ms")
    qs = Judgment.objects.filter(project=project, annotator__isnull=False).filter(
        final_phase(project)
    )
    rows = {row["annotator_id"]: row for row in qs.values("annotator_id").annotate(**aggregates)}
    for annotator_id, gold in _gold_rows(project).items():
        rows.setdefault(annotator_id, {}).update(gold)
    return rows


def _gold_rows(project: Project) -> dict[int, dict]:
    """Per annotator: judgments on gold tasks, and how many give the gold answer."""
    key = GOLD_KEY.get(project.kind)
    if key is None:
        return {}
    gold = (
        Judgment.objects.filter(project=project, annotator__isnull=False, task__is_gold=True)
        .filter(final_phase(project))
        .annotate(
            answer=KeyTextTransform(key, "payload"),
            gold_answer=KeyTextTransform(key, "task__gold_payload"),
        )
        .values("annotator_id")
        .annotate(
            gold_total=Count("pk"), gold_correct=Count("pk", filter=Q(answer=F("gold_answer")))
        )
    )
    return {row.pop("annotator_id"): row for row in gold}


def _medians_in_python(project: Project) -> dict[int, float]:
    """SQLite has no median aggregate: the embedded default sorts durations here instead."""
    from statistics import median

    durations: dict[int, list[int]] = defaultdict(list)
    rows = Judgment.objects.filter(
        project=project, annotator__isnull=False, duration_ms__isnull=False
    ).filter(final_phase(project))
    for annotator_id, ms in rows.values_list("annotator_id", "duration_ms"):
        durations[annotator_id].append(ms)
    return {a: float(median(v)) for a, v in durations.items()}


def _pairwise_agreement(project: Project) -> tuple[float | None, int]:
    """Interval alpha on the stored signed strengths; the database sums each task's values and
    then the per-task terms, so one row comes back whatever the number of judgments."""
    units = (
        counted_judgments(project)
        .filter(task__is_gold=False, signed_strength__isnull=False)
        .values("task_id")
        .annotate(
            m=Count("pk"),
            s=Sum("signed_strength"),
            s2=Sum(F("signed_strength") * F("signed_strength")),
        )
        .filter(m__gte=2)
        .values("m", "s", "s2")
    )
    sql, params = units.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), SUM(m), SUM(s), SUM(s2), SUM(2.0 * (m * s2 - s * s) / (m - 1)) "
            f"FROM ({sql}) AS units",
            params,
        )
        count, n, total, total_sq, observed = (float(v or 0) for v in cursor.fetchone())
    return alpha_from_totals(
        units=int(count), n=int(n), total=total, total_sq=total_sq, observed=observed
    )


def project_overview(*, project: Project) -> Overview:
    pairwise = project.kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT)
    rows = _annotator_rows(project)
    medians = {} if connection.vendor == "postgresql" else _medians_in_python(project)
    annotators = []
    for membership in project.memberships.select_related("user").order_by("user__username"):
        row = rows.get(membership.user_id, {})
        annotators.append(
            AnnotatorQuality(
                membership=membership,
                judgments=row.get("n", 0),
                today=row.get("today", 0),
                median_ms=row.get("median_ms", medians.get(membership.user_id)),
                gold_total=row.get("gold_total", 0),
                gold_correct=row.get("gold_correct", 0),
                decisive=row.get("decisive", 0),
                first_shown_wins=row.get("first_wins", 0),
                cycles=membership.intransitive_cycles if pairwise else None,
            )
        )
    if pairwise:
        alpha, units = _pairwise_agreement(project)
        level = "interval"
    else:
        from apps.quality.selectors import annotator_quality_table

        agreement = annotator_quality_table(project=project).agreement
        alpha, units, level = agreement.alpha, agreement.units, agreement.level
    return Overview(
        project=project,
        per_day=_per_day(project),
        tasks=_tasks(project),
        annotators=sorted(annotators, key=lambda a: -a.judgments),
        agreement=alpha,
        agreement_units=units,
        agreement_level=level,
        judgments=sum(a.judgments for a in annotators),
        counted=counted_judgments(project).count(),
    )


@dataclass
class Disagreement:
    task_id: int
    people: int  # the position most people chose
    votes: tuple[int, int]  # judgments for A, for B
    model: int  # the position the reward model scores higher
    gap: float


def people_model_disagreements(*, project: Project, run_id: int) -> list[Disagreement]:
    """Pairwise tasks where the people's majority and the reward model prefer different responses,
    the model's most confident mistakes (or the people's) first."""
    from apps.training.models import TaskScore

    votes: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        counted_judgments(project)
        .filter(chosen_position__isnull=False)
        .values("task_id", "chosen_position")
    )
    for row in rows.annotate(n=Count("pk")).values_list("task_id", "chosen_position", "n"):
        votes[row[0]][row[1]] += row[2]
    found = []
    for task_id, scores in TaskScore.objects.filter(
        run_id=run_id, task_id__in=list(votes)
    ).values_list("task_id", "scores"):
        a, b = votes[task_id]
        if a == b or len(scores) != 2:
            continue
        people, model = (0 if a > b else 1), (0 if scores[0] >= scores[1] else 1)
        if people != model:
            found.append(Disagreement(task_id, people, (a, b), model, abs(scores[0] - scores[1])))
    return sorted(found, key=lambda d: -d.gap)
