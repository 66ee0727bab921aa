import pytest
from django.db import connection
from django.urls import reverse

from apps.dashboard.selectors import project_overview
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.quality.selectors import annotator_quality_table
from apps.quality.services import annotator_exclusion_set
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db

CHOICES = [("A", "much"), ("A", "clearly"), ("B", "slightly"), ("tie", None), ("B", "much")]


def label(project, annotators, tasks: int, offset: int = 0):
    for _i in range(tasks):
        make_task(project)
    for k, annotator in enumerate(annotators):
        while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
            choice, strength = CHOICES[(lease.task_id + k + offset) % len(CHOICES)]
            judgment_submit(
                assignment_id=lease.pk,
                annotator=annotator,
                payload={"choice": choice, "strength": strength},
            )


def test_overview_figures_match_the_full_quality_computation(project):
    project.overlap = 2
    project.save()
    annotators = [add_member(project) for _ in range(3)]
    label(project, annotators, tasks=12)
    overview = project_overview(project=project)
    reference = annotator_quality_table(project=project)
    assert overview.agreement == pytest.approx(reference.agreement.alpha)
    assert overview.agreement_units == reference.agreement.units == 12
    assert overview.tasks["complete"] == 12 and overview.judgments == 24
    by_name = {r.membership.user.username: r for r in reference.annotators}
    for row in overview.annotators:
        ref = by_name[row.membership.user.username]
        assert (row.judgments, row.decisive, row.first_shown_wins, row.cycles) == (
            ref.judgments,
            ref.decisive,
            ref.first_shown_wins,
            ref.cycles,
        )


def test_excluding_an_annotator_changes_the_agreement_and_counted_judgments(project):
    project.overlap = 3
    project.save()
    annotators = [add_member(project) for _ in range(3)]
    label(project, annotators, tasks=6)
    before = project_overview(project=project)
    annotator_exclusion_set(
        project=project, annotator_id=annotators[2].pk, excluded=True, by=project.created_by
    )
    after = project_overview(project=project)
    assert after.counted == before.counted - 6
    assert after.agreement != before.agreement


def queries_for(client, url) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_overview_and_run_list_query_counts_do_not_grow_with_judgments(client, project, admin_user):
    annotators = [add_member(project) for _ in range(2)]
    client.force_login(admin_user)
    overview_url = reverse("dashboard:overview", args=[project.pk])
    runs_url = reverse("training:list", args=[project.pk])
    label(project, annotators, tasks=3)
    small = queries_for(client, overview_url), queries_for(client, runs_url)
    label(project, annotators, tasks=30, offset=1)
    large = queries_for(client, overview_url), queries_for(client, runs_url)
    assert small == large
    assert large[0] <= 16, "the overview stays a handful of queries"


def test_annotators_get_404_on_the_dashboard(client, project, annotator):
    client.force_login(annotator)
    for name in ("overview", "judgments", "leaderboard", "compare"):
        assert client.get(reverse(f"dashboard:{name}", args=[project.pk])).status_code == 404


def test_overview_gold_accuracy_compares_the_answer_with_the_gold_one(project, annotator):
    make_task(project, is_gold=True, gold_payload={"choice": "A", "strength": "much"})
    make_task(project, is_gold=True, gold_payload={"choice": "B", "strength": "much"})
    for _ in range(2):
        lease = task_claim_next(project=project, annotator=annotator)
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": "A", "strength": "slightly"},
        )
    row = next(
        r for r in project_overview(project=project).annotators if r.membership.user == annotator
    )
    assert (row.gold_correct, row.gold_total) == (1, 2)


def test_cycles_kept_at_submit_match_a_full_recount_and_follow_exclusions(project, annotator):
    from apps.feedback.models import Judgment
    from apps.labeling.models import Task, TaskItem
    from apps.quality.services import judgment_exclusion_set
    from tests.factories import PromptFactory, ResponseFactory

    # Three responses of one prompt, judged a≻b, b≻c, c≻a: one intransitive triad.
    prompt = PromptFactory(project=project)
    a, b, c = (ResponseFactory(prompt=prompt, text=t) for t in "abc")
    for first, second in ((a, b), (b, c), (c, a)):
        task = Task.objects.create(project=project, prompt=prompt, kind="pairwise")
        TaskItem.objects.create(task=task, response=first, position=0)
        TaskItem.objects.create(task=task, response=second, position=1)
    for _ in range(3):
        lease = task_claim_next(project=project, annotator=annotator)
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": "A", "strength": "clearly"},
        )
    membership = project.memberships.get(user=annotator)
    assert membership.intransitive_cycles == 1
    row = next(
        r
        for r in annotator_quality_table(project=project).annotators
        if r.membership.user == annotator
    )
    assert row.cycles == 1

    judgment_exclusion_set(
        project=project,
        judgment_id=Judgment.objects.first().pk,
        excluded=True,
        by=project.created_by,
    )
    membership.refresh_from_db()
    assert membership.intransitive_cycles == 0
