"""The dashboard rollups kept incrementally equal a recount from scratch, whatever mix of
submits, judgment exclusions, annotator exclusions and their undoing came before; the task
counters (kept by triggers) equal the aggregate over the tasks."""

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Least
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.core.errors import ApplicationError
from apps.dashboard.models import AgreementShard, AgreementUnit, JudgmentRollup, TaskStateCount
from apps.dashboard.selectors import counted_judgments, project_overview
from apps.dashboard.services import COUNTERS
from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.models import Task
from apps.labeling.services import task_claim_next
from apps.quality.selectors import annotator_quality_table
from apps.quality.services import annotator_exclusion_set, judgment_exclusion_set
from tests.factories import ProjectFactory, UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db

CHOICES = [
    ("A", "much"),
    ("A", "clearly"),
    ("A", "slightly"),
    ("B", "negligibly"),
    ("B", "much"),
    ("tie", None),
    ("both_bad", None),
]
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["submit", "submit", "submit", "exclude", "include", "drop_annotator", "readmit"]
        ),
        st.integers(min_value=0, max_value=50),
        st.sampled_from(CHOICES),
    ),
    min_size=5,
    max_size=40,
)


def snapshot(project) -> dict:
    rollups = sorted(
        JudgmentRollup.objects.filter(project=project).values_list(
            "annotator_key", "hour", "kind", "final", *COUNTERS
        )
    )
    units = sorted(
        AgreementUnit.objects.filter(project=project, m__gt=0).values_list(
            "task_id", "m", "s", "s2"
        )
    )
    totals = AgreementShard.objects.filter(project=project).aggregate(
        units=Sum("units"), n=Sum("n"), s=Sum("s"), s2=Sum("s2"), observed=Sum("observed")
    )
    overview = project_overview(project=project)
    figures = (
        overview.judgments,
        overview.counted,
        overview.agreement_units,
        [(a.membership.user_id, a.judgments, a.decisive, a.first_shown_wins, a.gold_total,
          a.gold_correct, a.today, a.mean_ms) for a in overview.annotators],
        overview.per_day,
        overview.tasks,
    )  # fmt: skip
    return {
        "rollups": rollups,
        "units": units,
        "totals": {k: float(v or 0) for k, v in totals.items()},
        "alpha": overview.agreement,
        "figures": figures,
    }


def apply(project, annotators, operations) -> None:
    for operation, index, (choice, strength) in operations:
        annotator = annotators[index % len(annotators)]
        judgments = list(Judgment.objects.filter(project=project).order_by("pk"))
        if operation == "submit":
            try:
                lease = task_claim_next(project=project, annotator=annotator)
            except ApplicationError:
                continue  # excluded annotators are refused work
            if lease is not None:
                judgment_submit(
                    assignment_id=lease.pk,
                    annotator=annotator,
                    payload={"choice": choice, "strength": strength},
                    duration_ms=1000 + 37 * index,
                )
        elif operation in ("exclude", "include") and judgments:
            judgment_exclusion_set(
                project=project,
                judgment_id=judgments[index % len(judgments)].pk,
                excluded=operation == "exclude",
                by=project.created_by,
            )
        elif operation in ("drop_annotator", "readmit"):
            annotator_exclusion_set(
                project=project,
                annotator_id=annotator.pk,
                excluded=operation == "drop_annotator",
                by=project.created_by,
            )


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a database
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_incremental_rollups_equal_a_recount_after_random_submits_exclusions_and_undos(
    operations,
):
    admin = UserFactory()
    project = ProjectFactory(created_by=admin, kind="pairwise", overlap=3)
    add_member(project, admin, role="admin")
    annotators = [add_member(project) for _ in range(4)]
    for i in range(6):
        gold = i % 3 == 0
        make_task(project, is_gold=gold, gold_payload={"choice": "A"} if gold else None)
    apply(project, annotators, operations)

    incremental = snapshot(project)
    call_command("rollups_recount", "--project", str(project.pk), verbosity=0)
    recounted = snapshot(project)

    assert incremental["rollups"] == recounted["rollups"]
    assert incremental["units"] == recounted["units"]
    assert incremental["figures"] == recounted["figures"]
    assert incremental["totals"] == pytest.approx(recounted["totals"], abs=1e-9)
    assert incremental["alpha"] == pytest.approx(recounted["alpha"], abs=1e-9)
    # And the figures are the stored judgments' own: the full computation agrees.
    reference = annotator_quality_table(project=project)
    assert incremental["figures"][1] == counted_judgments(project).count()
    assert incremental["alpha"] == pytest.approx(reference.agreement.alpha, abs=1e-9)
    assert incremental["figures"][2] == reference.agreement.units
    assert incremental["figures"][5] == task_counters_aggregated(project)


def task_counters_aggregated(project) -> dict:
    """The task counters as the overview used to compute them: one aggregate over the tasks."""
    overlap = project.overlap
    return project.tasks.aggregate(
        total=Count("pk"),
        complete=Count("pk", filter=Q(judgment_count__gte=overlap)),
        started=Count("pk", filter=Q(judgment_count__gt=0, judgment_count__lt=overlap)),
        judged=Sum(Least("judgment_count", Value(overlap))),
    )


def test_task_counters_follow_tasks_created_judged_recounted_and_deleted_by_any_path(project):
    """The triggers count bulk inserts, queryset updates and deletes, not only the services."""
    annotators = [add_member(project) for _ in range(2)]
    tasks = [make_task(project) for _ in range(3)]
    apply(project, annotators, [("submit", i, CHOICES[0]) for i in range(3)])
    Task.objects.filter(pk=tasks[2].pk).update(judgment_count=F("judgment_count") + 5)
    Task.objects.bulk_create(
        [Task(project=project, prompt=tasks[0].prompt, kind="pairwise") for _ in range(4)]
    )
    Task.objects.filter(pk=tasks[1].pk).delete()
    assert project_overview(project=project).tasks == task_counters_aggregated(project)
    assert task_counters_aggregated(project)["total"] == 6


def test_deleting_a_project_deletes_its_task_counters(project):
    make_task(project)
    assert TaskStateCount.objects.filter(project_id=project.pk).exists()
    project_id = project.pk
    project.delete()
    assert not TaskStateCount.objects.filter(project_id=project_id).exists()


def test_the_overview_of_a_project_without_tasks_counts_none():
    tasks = project_overview(project=ProjectFactory()).tasks
    assert tasks == {"total": 0, "complete": 0, "started": 0, "judged": None}


def test_the_overview_reads_no_judgment_rows(project):
    """Its cost does not grow with the judgments: no query touches the judgment table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    annotators = [add_member(project) for _ in range(2)]
    for _ in range(2):
        make_task(project)
    apply(project, annotators, [("submit", i, CHOICES[i % 7]) for i in range(4)])
    with CaptureQueriesContext(connection) as queries:
        overview = project_overview(project=project)
    assert overview.judgments == Judgment.objects.filter(project=project).count() == 2
    assert not [q["sql"] for q in queries if "feedback_judgment" in q["sql"]]
    assert not [q["sql"] for q in queries if "labeling_task" in q["sql"]]
