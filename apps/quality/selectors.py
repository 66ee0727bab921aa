"""The label-quality table of a project, computed from the stored judgments."""

from collections import defaultdict
from dataclasses import dataclass

from apps.feedback.facts import signed_strength
from apps.feedback.models import Judgment, Phase
from apps.labeling.models import TaskItem
from apps.projects.models import FeedbackKind, Membership, Project
from apps.quality.metrics import (
    Agreement,
    binomial_p_two_sided,
    directed_three_cycles,
    gold_matches,
    krippendorff_alpha,
    median_or_none,
    share,
)

VERDICT_VALUES = {"yes": 1.0, "no": 0.0}


@dataclass
class AnnotatorQuality:
    membership: Membership
    judgments: int = 0
    today: int = 0  # in the last 24 hours
    median_ms: float | None = None
    mean_ms: float | None = None  # the dashboard's (kept as a sum and a count in its rollups)
    gold_correct: int = 0
    gold_total: int = 0
    first_shown_wins: int = 0
    decisive: int = 0
    cycles: int | None = None

    @property
    def gold_accuracy(self) -> float | None:
        return share(self.gold_correct, self.gold_total)

    @property
    def position_bias(self) -> float | None:
        """Share of decisive judgments won by the left (first-shown) response; 0.5 is unbiased."""
        return share(self.first_shown_wins, self.decisive)

    @property
    def position_bias_p(self) -> float | None:
        return binomial_p_two_sided(self.first_shown_wins, self.decisive)


@dataclass
class QualityReport:
    project: Project
    agreement: Agreement
    annotators: list[AnnotatorQuality]
    judgments_counted: int


def _scored_judgments(project: Project) -> list[Judgment]:
    """The judgments that count: the final phase, from annotators and judgments not excluded."""
    phases = [Phase.HINDSIGHT] if project.kind == FeedbackKind.HINDSIGHT else [Phase.MAIN]
    return list(
        Judgment.objects.filter(project=project, phase__in=phases, annotator__isnull=False)
        .select_related("task")
        .only(
            "task_id",
            "annotator_id",
            "payload",
            "display_order",
            "duration_ms",
            "excluded_at",
            "task__is_gold",
            "task__gold_payload",
            "task__kind",
        )
    )


def _ratings(kind: str, judgments: list[Judgment]) -> tuple[dict, str, str]:
    ratings: dict = defaultdict(dict)
    if kind == FeedbackKind.DEMONSTRATION:
        # Answers written from scratch have no shared scale to agree on.
        return ratings, "nominal", "none: demonstrations are written, not rated"
    if kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT):
        for j in judgments:
            if (value := signed_strength(j.payload)) is not None:
                ratings[j.task_id][j.annotator_id] = value
            elif "labels" in j.payload:
                ratings[j.task_id][j.annotator_id] = float(j.payload["labels"][0])
        return (
            ratings,
            "interval",
            "interval distance on signed strength (+4 = A much better … −4 = B much better)",
        )
    if kind == FeedbackKind.LISTWISE:
        for j in judgments:
            for position, rank in enumerate(j.payload.get("ranks") or []):
                ratings[(j.task_id, position)][j.annotator_id] = float(rank)
        return ratings, "ordinal", "ordinal distance on each response's rank"
    if kind == FeedbackKind.THUMBS:
        for j in judgments:
            for position, label in enumerate(j.payload.get("labels", [])):
                ratings[(j.task_id, position)][j.annotator_id] = float(label)
        return ratings, "nominal", "nominal distance on thumbs up / down per response"
    for j in judgments:  # principles
        for v in j.payload.get("verdicts", []):
            if v["verdict"] in VERDICT_VALUES:
                ratings[(j.task_id, v["response"], v["principle"])][j.annotator_id] = (
                    VERDICT_VALUES[v["verdict"]]
                )
    return (
        ratings,
        "nominal",
        "nominal distance on yes / no per response and principle (N/A left out)",
    )


def _position_facts(judgments: list[Judgment]) -> dict[int, dict[int, int]]:
    """task id -> {canonical position: response id}, in one query."""
    positions: dict[int, dict[int, int]] = defaultdict(dict)
    items = TaskItem.objects.filter(task_id__in={j.task_id for j in judgments}).values_list(
        "task_id", "position", "response_id"
    )
    for task_id, position, response_id in items:
        positions[task_id][position] = response_id
    return positions


def _winner_loser(payload: dict, positions: dict[int, int]) -> tuple[int, int] | None:
    choice = payload.get("choice")
    if choice not in ("A", "B") or len(positions) != 2:
        return None
    winner = positions[0 if choice == "A" else 1]
    loser = positions[1 if choice == "A" else 0]
    return winner, loser


def _first_shown_won(j: Judgment, positions: dict[int, int]) -> bool | None:
    if (pair := _winner_loser(j.payload, positions)) is not None:
        return pair[0] == j.display_order[0]
    ranks = j.payload.get("ranks")
    if ranks and ranks.count(1) == 1:
        return positions.get(ranks.index(1)) == j.display_order[0]
    return None


def annotator_quality_table(*, project: Project) -> QualityReport:
    judgments = _scored_judgments(project)
    members = {m.user_id: m for m in project.memberships.select_related("user", "excluded_by")}
    counted = [
        j
        for j in judgments
        if j.excluded_at is None
        and not (members.get(j.annotator_id) and members[j.annotator_id].excluded_at)
    ]
    ratings, level, description = _ratings(project.kind, [j for j in counted if not j.task.is_gold])
    alpha, units = krippendorff_alpha(ratings, level=level)
    agreement = Agreement(alpha=alpha, level=level, units=units, description=description)

    positions = _position_facts(judgments)
    rows = {uid: AnnotatorQuality(membership=m) for uid, m in members.items()}
    durations: dict[int, list[float]] = defaultdict(list)
    edges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for j in judgments:
        row = rows.get(j.annotator_id)
        if row is None:
            continue
        row.judgments += 1
        if j.duration_ms is not None:
            durations[j.annotator_id].append(j.duration_ms)
        if j.task.is_gold and j.task.gold_payload:
            row.gold_total += 1
            row.gold_correct += gold_matches(j.task.kind, j.payload, j.task.gold_payload)
        first_won = _first_shown_won(j, positions[j.task_id])
        if first_won is not None:
            row.decisive += 1
            row.first_shown_wins += first_won
        if (
            j.excluded_at is None
            and (pair := _winner_loser(j.payload, positions[j.task_id])) is not None
        ):
            edges[j.annotator_id].append(pair)
    for uid, row in rows.items():
        row.median_ms = median_or_none(durations[uid])
        if project.kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT):
            row.cycles = directed_three_cycles(edges[uid])
    ordered = sorted(rows.values(), key=lambda r: (-r.judgments, r.membership.user.username))
    return QualityReport(
        project=project, agreement=agreement, annotators=ordered, judgments_counted=len(counted)
    )


def agreement_of(*, kind: str, judgments) -> Agreement:
    """Krippendorff's α over the given judgments (of one project's `kind`), as the quality table
    measures it: what a training rule's guard reads for the labels since its last launch."""
    ratings, level, description = _ratings(kind, list(judgments))
    alpha, units = krippendorff_alpha(ratings, level=level)
    return Agreement(alpha=alpha, level=level, units=units, description=description)


@dataclass
class TaskReview:
    task: object
    responses: list  # canonical order
    judgments: list[Judgment]


def task_review(*, project: Project, task_id: int) -> TaskReview:
    """A task with every annotator's judgment, for an admin to compare side by side."""
    from django.http import Http404

    from apps.labeling.models import Task

    task = Task.objects.filter(project=project, pk=task_id).select_related("prompt").first()
    if task is None:
        raise Http404("No such task.")
    responses = [
        item.response for item in task.items.select_related("response").order_by("position")
    ]
    judgments = list(
        task.judgments.select_related("annotator", "excluded_by").order_by(
            "annotator__username", "id"
        )
    )
    return TaskReview(task=task, responses=responses, judgments=judgments)
