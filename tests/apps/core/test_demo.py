"""The demo's seeding (apps/core/demo.py) on the test database: every kind judged through the
real services, quality figures that show the simulated annotators, and a trained reward model."""

import pytest

from apps.arena.models import Battle
from apps.chat.models import Reaction
from apps.core.demo import POSITION_BIASED, PROJECTS, demo_seed
from apps.core.demo_models import REWARD_RUNS
from apps.core.demo_policy import ARENA_VOTERS, ROOT_NAME
from apps.dashboard.leaderboard import model_leaderboard
from apps.feedback.models import Judgment
from apps.generation.models import GenerationJob
from apps.judges.models import JudgeJob, JudgeLabel
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind, Project
from apps.quality.selectors import annotator_quality_table
from apps.training.models import RunMetric, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "storage")


def test_the_demo_judges_every_kind_with_gold_disagreement_and_a_biased_annotator_once():
    report = demo_seed(train="no")

    assert {spec.kind for spec in PROJECTS} == set(FeedbackKind.values)
    for spec in PROJECTS:
        project = Project.objects.get(name=spec.name)
        if spec.kind == FeedbackKind.CHAT:
            assert Reaction.objects.filter(message__conversation__project=project).count() >= 10
        else:
            assert Judgment.objects.filter(project=project).count() >= 8, spec.name
    pairwise = Project.objects.get(kind=FeedbackKind.PAIRWISE)
    # Gold tasks, judged; tasks left for the live annotator; people who disagree.
    assert Judgment.objects.filter(project=pairwise, task__is_gold=True).exists()
    assert Task.objects.filter(project=pairwise, judgment_count__lt=pairwise.overlap).exists()
    choices_by_task: dict[int, set] = {}
    for task_id, choice in Judgment.objects.filter(project=pairwise).values_list(
        "task_id", "payload__choice"
    ):
        choices_by_task.setdefault(task_id, set()).add(choice)
    assert any(len(choices) > 1 for choices in choices_by_task.values())
    assert Judgment.objects.filter(project=pairwise).exclude(written_response="").exists()
    quality = annotator_quality_table(project=pairwise)
    biased = next(r for r in quality.annotators if r.membership.user.username == POSITION_BIASED)
    others = [r for r in quality.annotators if r.decisive and r is not biased]
    assert biased.position_bias > 0.75 > max(r.position_bias for r in others)
    assert quality.agreement.alpha is not None
    assert any(r.gold_total for r in quality.annotators)
    board = model_leaderboard(project=pairwise, rounds=20)
    assert [s.model for s in board][:1] == ["careful-7b"] and len(board) == 3
    assert sum(report.projects.values()) > 300

    judgments, reactions = Judgment.objects.count(), Reaction.objects.count()
    again = demo_seed(train="no")

    assert set(again.projects.values()) == {0}
    assert (Judgment.objects.count(), Reaction.objects.count()) == (judgments, reactions)


@pytest.mark.slow
def test_the_demo_trains_reward_models_that_finish_with_metrics_and_curves(settings, tmp_path):
    settings.ARBITER_MODEL_ROOTS = [str(tmp_path / ROOT_NAME)]  # as bin/demo offers it
    report = demo_seed(train="now")

    runs = TrainingRun.objects.filter(pk__in=report.runs)
    assert runs.count() == len(REWARD_RUNS)
    for run in runs:
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.metrics and RunMetric.objects.filter(run=run, name="loss").exists()
    pairwise = runs.get(project__kind=FeedbackKind.PAIRWISE)
    assert "eval/pairwise_accuracy" in set(
        RunMetric.objects.filter(run=pairwise).values_list("name", flat=True)
    )

    # The tiny models' work: a round or a generation job wherever the kind generates, the arena's
    # votes, and a policy run per project, with its win rate where a reward model judges it.
    for spec in PROJECTS:
        project = Project.objects.get(name=spec.name)
        jobs = GenerationJob.objects.filter(project=project)
        if spec.kind in (FeedbackKind.CHAT, FeedbackKind.DEMONSTRATION):
            assert not jobs.exists()
        else:
            assert jobs.get().status == "succeeded", jobs.get().error
            assert Task.objects.filter(context__generation_job=jobs.get().pk).exists(), spec.name
        assert project.rounds.exists() == (
            spec.kind in (FeedbackKind.PAIRWISE, FeedbackKind.LISTWISE, FeedbackKind.THUMBS)
        )
        policy = project.runs.get(family="policy")
        assert policy.status == RunStatus.SUCCEEDED, (spec.name, policy.error)
        judged = project.runs.filter(family="reward", status=RunStatus.SUCCEEDED).exists()
        assert ("win_rate_vs_base" in policy.metrics) == judged, spec.name
        # A judge that labelled the tasks wherever the kind has tasks of responses to judge.
        jobs = JudgeJob.objects.filter(judge__project=project, policy_run__isnull=True)
        if project.judges_responses:
            assert jobs.get().status == "succeeded", (spec.name, jobs.get().error)
            assert JudgeLabel.objects.filter(judge__project=project).exclude(payload=None).exists()
        else:
            assert not jobs.exists(), spec.name
    pairwise = Project.objects.get(kind=FeedbackKind.PAIRWISE)
    battles = Battle.objects.filter(project=pairwise)
    assert battles.count() == 4 and pairwise.arena_contestants.count() == 2
    voted = battles.filter(user__username__in=ARENA_VOTERS)
    assert all(b.revealed_at for b in voted) and all(
        t.judgment_id for b in voted for t in b.turns.all()
    )

    runs_before = TrainingRun.objects.count()
    jobs_before, battles_before = GenerationJob.objects.count(), Battle.objects.count()
    demo_seed(train="now")
    assert (TrainingRun.objects.count(), GenerationJob.objects.count(), Battle.objects.count()) == (
        runs_before,
        jobs_before,
        battles_before,
    )
