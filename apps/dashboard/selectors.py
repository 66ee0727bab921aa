"""The project overview in a fixed handful of queries over the rollups, whatever the number of
judgments; and the counted judgments that figures, exports and training share."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.dashboard.models import AgreementShard, JudgmentRollup, TaskStateCount
from apps.feedback.models import Judgment, Phase
from apps.projects.models import FeedbackKind, Membership, Project, Qualification
from apps.quality.metrics import alpha_from_totals
from apps.quality.selectors import AnnotatorQuality


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
        JudgmentRollup.objects.filter(project=project)
        .annotate(day=TruncDate("hour"))
        .values("day", "kind")
        .annotate(total=Sum("n"))
        .order_by("day", "kind")
    )
    return [{"day": row["day"].isoformat(), "kind": row["kind"], "n": row["total"]} for row in rows]


def _tasks(project: Project) -> dict:
    """The task counters from the tasks per judgment count (TaskStateCount, kept by triggers):
    a few rows per project whatever its size, and right for any overlap."""
    by_count = (
        TaskStateCount.objects.filter(project=project)
        .values_list("judgment_count")
        .annotate(tasks=Sum("tasks"))
        .order_by()
    )
    overlap, total, complete, started, judged = project.overlap, 0, 0, 0, 0
    for count, tasks in by_count:
        total += tasks
        complete += tasks if count >= overlap else 0
        started += tasks if 0 < count < overlap else 0
        judged += tasks * min(count, overlap)
    # As the aggregate over the tasks read: no sum (None) for a project without tasks.
    return {"total": total, "complete": complete, "started": started,
            "judged": judged if total else None}  # fmt: skip


def _annotator_rows(project: Project) -> dict[int, dict]:
    """Per annotator key, their final-phase counters summed over their hourly rollups."""
    since = timezone.localtime(timezone.now() - timedelta(days=1)).replace(
        minute=0, second=0, microsecond=0
    )
    names = ("n", "excluded", "decisive", "first_wins", "gold_total", "gold_correct")
    names += ("duration_n", "duration_ms_sum")
    sums = {f"sum_{name}": Sum(name) for name in names}
    rows = (
        JudgmentRollup.objects.filter(project=project, final=True)
        .values("annotator_key")
        .annotate(**sums, today=Sum("n", filter=Q(hour__gte=since)))
        .order_by()
    )
    return {
        row["annotator_key"]: {
            "today": row["today"],
            **{name: row[f"sum_{name}"] for name in names},
        }
        for row in rows
    }


def _pairwise_agreement(project: Project) -> tuple[float | None, int]:
    """Interval alpha from the agreement totals kept per unit, summed over the project's shards."""
    totals = AgreementShard.objects.filter(project=project).aggregate(
        units=Sum("units"), n=Sum("n"), s=Sum("s"), s2=Sum("s2"), observed=Sum("observed")
    )
    return alpha_from_totals(
        units=int(totals["units"] or 0),
        n=int(totals["n"] or 0),
        total=float(totals["s"] or 0),
        total_sq=float(totals["s2"] or 0),
        observed=float(totals["observed"] or 0),
    )


def project_overview(*, project: Project) -> Overview:
    """The overview from the rollups (apps/dashboard/models.py) and the task counters: its cost
    does not depend on how many judgments the project holds."""
    pairwise = project.kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT)
    rows = _annotator_rows(project)
    annotators, uncounted = [], set()
    for membership in project.memberships.select_related("user").order_by("user__username"):
        if membership.excluded_at is not None or membership.qualification in (
            Qualification.PENDING,
            Qualification.FAILED,
        ):
            uncounted.add(membership.user_id)
        row = rows.get(membership.user_id, {})
        timed = row.get("duration_n") or 0
        annotators.append(
            AnnotatorQuality(
                membership=membership,
                judgments=row.get("n") or 0,
                today=row.get("today") or 0,
                mean_ms=(row["duration_ms_sum"] / timed) if timed else None,
                gold_total=row.get("gold_total") or 0,
                gold_correct=row.get("gold_correct") or 0,
                decisive=row.get("decisive") or 0,
                first_shown_wins=row.get("first_wins") or 0,
                cycles=membership.intransitive_cycles if pairwise else None,
            )
        )
    counted = sum(
        (row["n"] or 0) - (row["excluded"] or 0)
        for key, row in rows.items()
        if key not in uncounted
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
        counted=counted,
    )


@dataclass
class Disagreement:
    task_id: int
    people: int  # the position most people chose (a pair's pick, a ranking's first place)
    votes: tuple[int, ...]  # judgments choosing each position
    model: int  # the position the reward model scores highest
    gap: float  # the model's score of its choice less its score of the people's

    @property
    def letters(self) -> tuple[str, str]:
        """(the people's choice, the model's) as the labeling page names positions."""
        return LETTERS[self.people], LETTERS[self.model]


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def people_model_disagreements(*, project: Project, run_id: int) -> list[Disagreement]:
    """Tasks where the response most people chose (a pair's pick, a ranking's first place) is
    not the one the reward model scores highest, the model's most confident mistakes (or the
    people's) first. A task whose top choice is shared by two responses is left out."""
    from apps.training.models import TaskScore

    votes: dict[int, dict[int, int]] = defaultdict(dict)
    rows = (
        counted_judgments(project)
        .filter(chosen_position__isnull=False)
        .values("task_id", "chosen_position")
    )
    for task_id, position, n in rows.annotate(n=Count("pk")).values_list(
        "task_id", "chosen_position", "n"
    ):
        votes[task_id][position] = n
    found = []
    for task_id, scores in TaskScore.objects.filter(
        run_id=run_id, task_id__in=list(votes)
    ).values_list("task_id", "scores"):
        counts = votes[task_id]
        if len(scores) < 2 or max(counts) >= len(scores):
            continue  # scored before the task's responses changed: not comparable
        top = max(counts.values())
        chosen = [position for position, n in counts.items() if n == top]
        if len(chosen) > 1:
            continue
        people = chosen[0]
        model = max(range(len(scores)), key=lambda p: scores[p])
        if people != model:
            tally = tuple(counts.get(p, 0) for p in range(len(scores)))
            gap = scores[model] - scores[people]
            found.append(Disagreement(task_id, people, tally, model, gap))
    return sorted(found, key=lambda d: -d.gap)
