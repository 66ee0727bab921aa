"""Reads: a project's judges and jobs, a judge's position bias, and the calibration report that
sets each judge beside the human majority."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.feedback.models import Judgment, Phase
from apps.judges.agreement import (
    Agreement,
    PositionBias,
    agreement,
    judge_units,
    majority,
    people_by_unit,
    position_bias,
)
from apps.judges.models import Judge, JudgeJob, JudgeLabel
from apps.judges.prompts import KINDS, judged_kind
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind, Membership, Project
from apps.projects.selectors import projects_for_user, user_is_project_admin

DISAGREEMENTS_SHOWN = 20


def judges_for_project(*, project: Project) -> QuerySet[Judge]:
    return Judge.objects.filter(project=project).order_by("name", "pk")


def judge_jobs_for_project(*, project: Project) -> QuerySet[JudgeJob]:
    return JudgeJob.objects.filter(project=project).select_related("judge")


def _admin_only(user: User, obj, what: str):
    if obj is None or not user_is_project_admin(user=user, project=obj.project):
        raise Http404(f"No such {what}.")
    return obj


def judge_get_for_admin(*, user: User, judge_id: int) -> Judge:
    """The judge, if the user administers its project; otherwise 404, like a missing one."""
    judge = (
        Judge.objects.select_related("project")
        .filter(pk=judge_id, project__in=projects_for_user(user=user))
        .first()
    )
    return _admin_only(user, judge, "judge")


def judge_job_get_for_admin(*, user: User, job_id: int) -> JudgeJob:
    job = (
        JudgeJob.objects.select_related("project", "judge")
        .filter(pk=job_id, project__in=projects_for_user(user=user))
        .first()
    )
    return _admin_only(user, job, "judge job")


# --- position bias ------------------------------------------------------------------------------


def _labels_by_task(judge: Judge) -> dict[int, list[JudgeLabel]]:
    by_task: dict[int, list[JudgeLabel]] = defaultdict(list)
    for label in JudgeLabel.objects.filter(judge=judge).only(
        "task_id", "order", "payload", "first_shown_won", "display_order"
    ):
        by_task[label.task_id].append(label)
    return by_task


def _task_kinds(task_ids) -> dict[int, str]:
    kinds, sizes = {}, defaultdict(int)
    for task_id, kind in Task.objects.filter(pk__in=task_ids).values_list("pk", "kind"):
        kinds[task_id] = kind
    from apps.labeling.models import TaskItem

    for task_id in TaskItem.objects.filter(task_id__in=task_ids).values_list("task_id", flat=True):
        sizes[task_id] += 1
    # A demonstration (or chat) task is no judge's: it has no kind here, as it has no labels.
    return {
        pk: judged_kind(task_kind=kind, size=sizes[pk])
        for pk, kind in kinds.items()
        if kind in KINDS or kind == "hindsight"
    }


def judge_position_bias(*, judge: Judge) -> PositionBias:
    """The share of decisive pair labels won by the response shown first, and how often the two
    orders of a task disagree."""
    by_task = _labels_by_task(judge)
    kinds = _task_kinds(list(by_task))
    return position_bias(
        (label.first_shown_won for labels in by_task.values() for label in labels),
        ((kinds[t], [label.payload for label in labels]) for t, labels in by_task.items()),
    )


# --- calibration --------------------------------------------------------------------------------


@dataclass
class Disagreement:
    task_id: int
    part: tuple
    judge: str
    majority: str
    votes: dict[str, int]
    against: float  # share of people's votes against the judge's verdict
    prompt: str = ""


@dataclass
class JudgeCalibration:
    judge: Judge
    bias: PositionBias
    overall: Agreement
    by_kind: dict[str, Agreement]
    by_annotator: list[tuple[str, Agreement]]
    disagreements: list[Disagreement] = field(default_factory=list)
    judged_tasks: int = 0


def _people(project: Project):
    """The judgments that count: the final phase, the judgment not excluded, its annotator's
    labels counted (not excluded, not awaiting or failing qualification)."""
    phase = Phase.HINDSIGHT if project.kind == FeedbackKind.HINDSIGHT else Phase.MAIN
    excluded = Membership.objects.uncounted().filter(project=project).values("user_id")
    return (
        Judgment.objects.filter(
            project=project, phase=phase, annotator__isnull=False, excluded_at__isnull=True
        )
        .exclude(annotator_id__in=excluded)
        .values_list("task_id", "annotator_id", "annotator__username", "payload")
    )


def calibration_report(*, project: Project) -> list[JudgeCalibration]:
    """Each judge of the project against the human majority, unit by unit (apps/judges/agreement):
    overall, per judged kind and per annotator (the judge against that person's own labels), and
    the units where most people voted against the judge."""
    rows = list(_people(project))
    names = {annotator: name for _, annotator, name, _ in rows}
    kinds = _task_kinds({task_id for task_id, *_ in rows})
    people = people_by_unit(
        (task_id, annotator, kinds.get(task_id, ""), payload)
        for task_id, annotator, _, payload in rows
        if task_id in kinds
    )
    majorities = {unit: majority(votes.values()) for unit, votes in people.items()}
    reports = []
    for judge in judges_for_project(project=project):
        by_task = _labels_by_task(judge)
        task_kinds = {**kinds, **_task_kinds([t for t in by_task if t not in kinds])}
        judged: dict[tuple, str] = {}
        for task_id, labels in by_task.items():
            verdicts, _, _ = judge_units(task_kinds[task_id], [label.payload for label in labels])
            for part, value in verdicts.items():
                judged[(task_id, *part)] = value
        overall, by_kind, by_person = [], defaultdict(list), defaultdict(list)
        disagreements = []
        for unit, value in judged.items():
            for annotator, vote in people.get(unit, {}).items():
                by_person[annotator].append((value, vote))
            human = majorities.get(unit)
            if human is None:
                continue
            overall.append((value, human))
            by_kind[task_kinds[unit[0]]].append((value, human))
            if value != human:
                votes = dict(sorted(_count(people[unit].values()).items()))
                against = 1 - votes.get(value, 0) / sum(votes.values())
                disagreements.append(Disagreement(unit[0], unit[1:], value, human, votes, against))
        disagreements.sort(key=lambda d: (-d.against, -sum(d.votes.values()), d.task_id))
        shown = disagreements[:DISAGREEMENTS_SHOWN]
        prompts = dict(
            Task.objects.filter(pk__in=[d.task_id for d in shown]).values_list(
                "pk", "prompt__messages"
            )
        )
        for d in shown:
            messages = prompts.get(d.task_id) or []
            d.prompt = messages[-1].get("content", "") if messages else ""
        reports.append(
            JudgeCalibration(
                judge=judge,
                bias=judge_position_bias(judge=judge),
                overall=agreement(overall),
                by_kind={kind: agreement(pairs) for kind, pairs in sorted(by_kind.items())},
                by_annotator=sorted(
                    ((names[a], agreement(pairs)) for a, pairs in by_person.items()),
                    key=lambda row: row[0],
                ),
                disagreements=shown,
                judged_tasks=len(by_task),
            )
        )
    return reports


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


# --- suggestions on the labeling page -----------------------------------------------------------


def task_judge_suggestions(task: Task) -> list[tuple[str, dict, bool]]:
    """(judge name, verdict, both orders agreed) of each of the project's pre-labelling judges
    on the task — none unless an admin turned a judge's pre-labelling on. The verdict shown is
    the as-stored order's (canonical positions)."""
    labels = (
        JudgeLabel.objects.filter(task=task, judge__prelabel=True, payload__isnull=False)
        .select_related("judge")
        .order_by("judge__name", "order")
    )
    by_judge: dict[int, list[JudgeLabel]] = defaultdict(list)
    for label in labels:
        by_judge[label.judge_id].append(label)
    suggestions = []
    for judge_labels in by_judge.values():
        first = judge_labels[0]
        kind = judged_kind(task_kind=task.kind, size=len(first.display_order))
        _, _, inconsistent = judge_units(kind, [label.payload for label in judge_labels])
        suggestions.append((first.judge.name, first.payload, not inconsistent))
    return suggestions


# --- pairs for exports (asked for with include_judges) ------------------------------------------


@dataclass(frozen=True)
class JudgePair:
    judge: str
    task_id: int
    prompt_id: int
    winner: int | None  # canonical position, None: no pair (see `skip`)
    margin: float | None  # mean strength step of the two orders
    skip: str = ""


def judge_pairs_for_export(*, project: Project):
    """Each judge's verdict on each pair task not gold, in prompt and task order: a pair when
    both orders chose the same response, otherwise a reason ("judge_inconsistent",
    "judge_no_preference" for ties and both-bad, "judge_unparsed")."""
    from itertools import groupby

    from apps.feedback.payloads import strength_step

    rows = (
        JudgeLabel.objects.filter(project=project, task__is_gold=False)
        .order_by("task__prompt_id", "task_id", "judge__name", "order")
        .values_list("judge__name", "task_id", "task__prompt_id", "payload")
        .iterator(chunk_size=5000)
    )
    for (task_id, judge), group in groupby(rows, key=lambda row: (row[1], row[0])):
        labels = list(group)
        prompt_id = labels[0][2]
        payloads = [payload for *_, payload in labels]
        choices = {(p or {}).get("choice") for p in payloads}
        if len(payloads) < 2 or None in choices:
            yield JudgePair(judge, task_id, prompt_id, None, None, "judge_unparsed")
        elif len(choices) > 1:
            yield JudgePair(judge, task_id, prompt_id, None, None, "judge_inconsistent")
        elif choices & {"A", "B"}:
            steps = [strength_step(p.get("strength")) for p in payloads]
            winner = "AB".index(choices.pop())
            yield JudgePair(judge, task_id, prompt_id, winner, sum(steps) / len(steps))
        else:
            yield JudgePair(judge, task_id, prompt_id, None, None, "judge_no_preference")
