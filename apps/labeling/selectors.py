from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.corpus.models import Response
from apps.feedback.models import Judgment, Phase
from apps.labeling.models import Assignment, AssignmentStatus, Task
from apps.projects.models import Membership, Principle, Project, RubricItem
from apps.projects.selectors import current_principles


@dataclass(frozen=True)
class ShownResponse:
    """A response as the annotator sees it: its screen side and its canonical letter."""

    response: Response
    letter: str  # canonical position as a letter: A, B, C...
    position: int
    side: int  # 0 = left / first shown


@dataclass(frozen=True)
class LabelingView:
    assignment: Assignment
    task: Task
    messages: list[dict]
    shown: list[ShownResponse]
    phase: str
    foresight: Judgment | None
    principles: list[Principle]
    rubric_items: list[RubricItem]
    suggested_scores: dict[int, float] | None = None  # canonical position -> reward-model score
    # Verdicts of LLM judges an admin set to pre-label (apps/judges): [(judge name, canonical
    # payload, whether both orders agreed)]; empty unless a judge's pre-labelling is on.
    judge_suggestions: list[tuple[str, dict, bool]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.task.kind

    @property
    def body_template(self) -> str:
        """The form body for the kind; hindsight judges pairs or single responses."""
        if self.kind == "hindsight":
            return (
                "labeling/kinds/pairwise.html"
                if len(self.shown) == 2
                else "labeling/kinds/thumbs.html"
            )
        return f"labeling/kinds/{self.kind}.html"

    @property
    def originals(self) -> dict[str, str]:
        """Each shown response's text by canonical position: what a rewrite starts from."""
        return {str(s.position): s.response.text for s in self.shown}

    @property
    def judge_suggestion_lines(self) -> list[tuple[str, str, bool]]:
        """Each pre-labelling judge's verdict in the screen's words (sides, not letters)."""
        side = {s.letter: ("Left" if s.side == 0 else "Right") for s in self.shown}
        lines = []
        for name, payload, consistent in self.judge_suggestions:
            choice = payload.get("choice")
            if choice in side and len(self.shown) == 2:
                text = f"{side[choice]} is {payload.get('strength') or ''} better"
            elif choice == "tie":
                text = "A tie"
            elif choice == "both_bad":
                text = "Both bad"
            elif "labels" in payload:
                text = ", ".join("good" if up else "bad" for up in payload["labels"])
            elif payload.get("ranks"):
                ranked = sorted(zip(payload["ranks"], "ABCDEFGH", strict=False))
                text = "Ranking " + " > ".join(letter for _, letter in ranked)
            elif "verdicts" in payload:
                yes = sum(v["verdict"] == "yes" for v in payload["verdicts"])
                text = f"{yes} of {len(payload['verdicts'])} principles met"
            else:
                continue
            lines.append((name, " ".join(text.split()), consistent))
        return lines

    @property
    def consequence_revealed(self) -> bool:
        return self.phase == Phase.HINDSIGHT

    @property
    def foresight_summary(self) -> str:
        """The foresight verdict in the words of the screen ("Left was slightly better")."""
        if self.foresight is None:
            return ""
        payload = self.foresight.payload
        if "labels" in payload:
            return "Good" if payload["labels"][0] else "Bad"
        choice = payload.get("choice")
        if choice == "tie":
            return "A tie"
        if choice == "both_bad":
            return "Both bad"
        side = next(("Left" if s.side == 0 else "Right") for s in self.shown if s.letter == choice)
        return f"{side} was {payload.get('strength')} better"


def labeling_view(*, assignment: Assignment) -> LabelingView:
    """Everything the labeling page shows for a lease, in three queries."""
    task = Task.objects.select_related("prompt", "project").get(pk=assignment.task_id)
    position_of = {}
    responses = {}
    for item in task.items.select_related("response"):
        position_of[item.response_id] = item.position
        responses[item.response_id] = item.response
    shown = [
        ShownResponse(
            response=responses[rid],
            letter=chr(ord("A") + position_of[rid]),
            position=position_of[rid],
            side=side,
        )
        for side, rid in enumerate(assignment.display_order)
    ]
    foresight = None
    phase = Phase.MAIN
    if task.kind == "hindsight":
        foresight = Judgment.objects.filter(
            task=task, annotator_id=assignment.annotator_id, phase=Phase.FORESIGHT
        ).first()
        phase = Phase.HINDSIGHT if foresight else Phase.FORESIGHT
    project = task.project
    principles = list(current_principles(project=project)) if task.kind == "principles" else []
    return LabelingView(
        assignment=assignment,
        task=task,
        messages=task.prompt.messages,
        shown=shown,
        phase=phase,
        foresight=foresight,
        principles=principles,
        rubric_items=list(project.rubric_items.filter(is_active=True)),
        suggested_scores=_suggested_scores(task) if project.show_suggestions else None,
        judge_suggestions=_judge_suggestions_source(task) if _judge_suggestions_source else [],
    )


# Where a task's model scores come from: the app that trains the models plugs its reader in at
# start-up (`scores_source_set` in its AppConfig.ready), so labeling never imports it.
ScoresSource = Callable[[Task], list[float] | None]
_scores_source: ScoresSource | None = None


def scores_source_set(source: ScoresSource | None) -> None:
    global _scores_source
    _scores_source = source


# The same for LLM judges' verdicts: apps/judges plugs in its reader (`judge_suggestions_source_set`).
JudgeSuggestionsSource = Callable[[Task], list[tuple[str, dict, bool]]]
_judge_suggestions_source: JudgeSuggestionsSource | None = None


def judge_suggestions_source_set(source: JudgeSuggestionsSource | None) -> None:
    global _judge_suggestions_source
    _judge_suggestions_source = source


def _suggested_scores(task: Task) -> dict[int, float] | None:
    stored = _scores_source(task) if _scores_source is not None else None
    return dict(enumerate(stored)) if stored else None


@dataclass(frozen=True)
class AnnotatorProgress:
    judged: int
    remaining: int


def annotator_progress(*, project: Project, annotator: User) -> AnnotatorProgress:
    """How many tasks the annotator judged here, and how many are still open to them."""
    judged = (
        Judgment.objects.filter(project=project, annotator=annotator)
        .exclude(phase=Phase.FORESIGHT)
        .count()
    )
    remaining = (
        Task.objects.filter(project=project, judgment_count__lt=project.overlap)
        .exclude(
            Exists(
                Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator).exclude(
                    status=AssignmentStatus.ACTIVE
                )
            )
        )
        .count()
    )
    return AnnotatorProgress(judged=judged, remaining=remaining)


def assignment_get_for_user(*, user: User, assignment_id: int) -> Assignment | None:
    return (
        Assignment.objects.filter(pk=assignment_id, annotator=user)
        .select_related("project")
        .first()
    )


def open_leases(*, project: Project) -> int:
    return Assignment.objects.filter(
        project=project, status=AssignmentStatus.ACTIVE, expires_at__gt=timezone.now()
    ).count()


def annotator_tasks_taken(*, project: Project, annotator: User, now) -> int:
    """What counts toward the annotator's quota: their judged tasks plus their live leases."""
    return (
        Assignment.objects.filter(project=project, annotator=annotator)
        .filter(
            Q(status=AssignmentStatus.SUBMITTED)
            | Q(status=AssignmentStatus.ACTIVE, expires_at__gt=now)
        )
        .count()
    )


def annotator_done_reason(*, project: Project, annotator: User) -> str:
    """Why nothing is left for the annotator when it is their quota (said instead of a bare
    "all done"), or "". Read only when no task was found: nothing while they label."""
    quota = (
        Membership.objects.filter(project=project, user=annotator)
        .values_list("quota", flat=True)
        .first()
    )
    if (
        quota is None
        or annotator_tasks_taken(project=project, annotator=annotator, now=timezone.now()) < quota
    ):
        return ""
    return (
        f"You have reached your quota of {quota} task{'s' if quota != 1 else ''} in this project."
    )
