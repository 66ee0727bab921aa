"""Reads about people at work on a project: the team table an admin manages, and the work
report (hours, judgments, gold accuracy per annotator over a period) used to pay people."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.feedback.models import Judgment, Phase
from apps.labeling.models import Assignment, AssignmentStatus, Task
from apps.labeling.qualification import qualification_answers_of
from apps.projects.models import Membership, Project, Qualification, Role
from apps.quality.metrics import gold_matches, share
from apps.teams.models import Invitation


@dataclass
class TeamRow:
    membership: Membership
    assigned: int  # open tasks reserved for this annotator
    qualification_answered: int
    qualification_right: int

    @property
    def qualification_accuracy(self) -> float | None:
        return share(self.qualification_right, self.qualification_answered)


def team_table(*, project: Project) -> list[TeamRow]:
    """Every member with their group, quota, qualification progress and reserved tasks."""
    memberships = list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("role", "user__username")
    )
    assigned = dict(
        Task.objects.filter(
            project=project, assignee__isnull=False, judgment_count__lt=project.overlap
        )
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    qualifying = [m.user_id for m in memberships if m.qualification != Qualification.NOT_REQUIRED]
    answers_of = qualification_answers_of(project=project, annotator_ids=qualifying)
    rows = []
    for membership in memberships:
        answers = answers_of.get(membership.user_id, [])
        rows.append(
            TeamRow(
                membership=membership,
                assigned=assigned.get(membership.user_id, 0),
                qualification_answered=len(answers),
                qualification_right=sum(ok for ok, _ in answers),
            )
        )
    return rows


def group_task_counts(*, project: Project) -> dict[str, int]:
    """Open tasks reserved for each group."""
    return dict(
        Task.objects.filter(project=project, judgment_count__lt=project.overlap)
        .exclude(assignee_group="")
        .values("assignee_group")
        .annotate(n=Count("pk"))
        .values_list("assignee_group", "n")
    )


def open_invitations(*, project: Project) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        project=project, accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("created_by")


def annotator_choices(*, project: Project) -> list[tuple[int, str]]:
    return list(
        Membership.objects.filter(project=project, role=Role.ANNOTATOR)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )


@dataclass
class WorkRow:
    annotator_id: int
    username: str
    hours_on_task: float
    leases_finished: int
    judgments: int
    skipped: int
    gold_answered: int
    gold_right: int
    qualification: str

    @property
    def gold_accuracy(self) -> float | None:
        return share(self.gold_right, self.gold_answered)


def work_report(*, project: Project, start: datetime, end: datetime) -> list[WorkRow]:
    """Per annotator, over [start, end): hours on task (each lease closed in the period, from
    when it was taken to when it was judged or skipped), judgments submitted (every phase),
    tasks skipped, and their gold answers (final phase) with how many were right."""
    duration = ExpressionWrapper(F("finished_at") - F("created_at"), output_field=DurationField())
    leases = {
        row["annotator_id"]: row
        for row in Assignment.objects.filter(
            project=project,
            finished_at__gte=start,
            finished_at__lt=end,
            status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED],
        )
        .values("annotator_id")
        .annotate(
            time=Sum(duration),
            finished=Count("pk"),
            skipped=Count("pk", filter=Q(status=AssignmentStatus.SKIPPED)),
        )
    }
    in_period = Judgment.objects.filter(
        project=project, annotator__isnull=False, submitted_at__gte=start, submitted_at__lt=end
    )
    judged = dict(
        in_period.values("annotator_id").annotate(n=Count("pk")).values_list("annotator_id", "n")
    )
    gold: dict[int, list[bool]] = {}
    for j in (
        in_period.filter(task__is_gold=True, task__gold_payload__isnull=False)
        .exclude(phase=Phase.FORESIGHT)
        .select_related("task")
        .only("annotator_id", "kind", "payload", "task__gold_payload")
    ):
        gold.setdefault(j.annotator_id, []).append(
            gold_matches(j.kind, j.payload, j.task.gold_payload or {})
        )
    members = dict(
        Membership.objects.filter(project=project).values_list("user_id", "qualification")
    )
    ids = set(leases) | set(judged)
    names = dict(
        Membership.objects.filter(project=project, user_id__in=ids).values_list(
            "user_id", "user__username"
        )
    )
    names.update(
        User.objects.filter(pk__in=ids - set(names)).values_list("pk", "username")
    )  # former members, whose work in the period still counts
    rows = []
    for annotator_id in ids:
        lease = leases.get(annotator_id, {})
        answers = gold.get(annotator_id, [])
        time = lease.get("time")
        rows.append(
            WorkRow(
                annotator_id=annotator_id,
                username=names.get(annotator_id, f"user {annotator_id}"),
                hours_on_task=time.total_seconds() / 3600 if time else 0.0,
                leases_finished=lease.get("finished", 0),
                judgments=judged.get(annotator_id, 0),
                skipped=lease.get("skipped", 0),
                gold_answered=len(answers),
                gold_right=sum(answers),
                qualification=members.get(annotator_id, ""),
            )
        )
    return sorted(rows, key=lambda r: r.username)


WORK_REPORT_COLUMNS = (
    "annotator",
    "period_start",
    "period_end",
    "hours_on_task",
    "judgments",
    "tasks_skipped",
    "gold_answered",
    "gold_right",
    "gold_accuracy",
    "qualification",
)


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: usernames are user text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def work_report_csv(*, project: Project, start: datetime, end: datetime) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(WORK_REPORT_COLUMNS)
    for row in work_report(project=project, start=start, end=end):
        accuracy = row.gold_accuracy
        writer.writerow(
            [
                _cell(row.username),
                start.isoformat(),
                end.isoformat(),
                f"{row.hours_on_task:.3f}",
                row.judgments,
                row.skipped,
                row.gold_answered,
                row.gold_right,
                "" if accuracy is None else f"{accuracy:.3f}",
                row.qualification,
            ]
        )
    return out.getvalue()
