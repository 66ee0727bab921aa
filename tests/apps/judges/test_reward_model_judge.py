"""The project's reward model as a judge: a tiny BERT reward model trained here, in-process."""

import shutil
from pathlib import Path

import pytest

from apps.core.jobs import JobStatus
from apps.judges.models import JudgeLabel
from apps.judges.selectors import judge_position_bias
from apps.judges.services import judge_create
from apps.projects.models import FeedbackKind
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.apps.judges.conftest import run_all
from tests.factories import make_task
from tests.trainer import tiny

pytestmark = pytest.mark.django_db


def trained_model_dir(
    tmp_path_factory, *, objective: str, rows: list[dict], max_steps: int
) -> Path:
    """A tiny BERT trained here on `rows` for the reward `objective`; its model folder."""
    from trainer import train

    directory = tmp_path_factory.mktemp(objective)
    bert = tiny.build_tiny_bert(directory / "bert")
    result = train(
        objective=objective,
        config={
            "model": str(bert),
            "learning_rate": 2e-3,
            "batch_size": 16,
            "max_steps": max_steps,
            "save_steps": 0,
            "num_threads": 1,
        },
        train_path=tiny.write_jsonl(rows, directory / "train.jsonl"),
        output_dir=directory / "run",
    )
    return result.model_dir


def succeeded_run(project, *, objective: str, model_dir: Path) -> TrainingRun:
    """A succeeded reward run of the project whose saved model is a copy of `model_dir`."""
    run = TrainingRun.objects.create(
        project=project,
        objective=objective,
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
    )
    run.output_dir = f"runs/{run.pk}"
    run.save(update_fields=["output_dir"])
    shutil.copytree(model_dir, run_model_dir(run))
    return run


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory):
    return trained_model_dir(
        tmp_path_factory,
        objective="reward_pairwise",
        rows=tiny.pairwise_rows(128, seed=11),
        max_steps=16,
    )


@pytest.fixture(scope="module")
def principle_model_dir(tmp_path_factory):
    return trained_model_dir(
        tmp_path_factory,
        objective="reward_principle",
        rows=tiny.principle_rows(256, seed=5),
        max_steps=24,
    )


@pytest.fixture
def reward_run(project, reward_model_dir, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "storage")
    return succeeded_run(project, objective="reward_pairwise", model_dir=reward_model_dir)


def rm_judge(project, run):
    return judge_create(
        project=project,
        user=project.created_by,
        name="rm",
        backend="reward_model",
        config={"model": f"run:{run.pk}"},
    )


def test_a_reward_model_judge_has_no_position_bias(project, reward_run):
    for i in range(4):
        good, bad = " ".join(tiny.GOOD[i : i + 3]), " ".join(tiny.BAD[i : i + 3])
        make_task(project, texts=[good, bad] if i % 2 else [bad, good])

    job = run_all(rm_judge(project, reward_run))

    assert job.status == JobStatus.SUCCEEDED, job.error
    labels = list(JudgeLabel.objects.filter(judge__name="rm"))
    assert len(labels) == 8 and all(label.reply.startswith("scores ") for label in labels)
    bias = judge_position_bias(judge=labels[0].judge)
    # Scores do not depend on the order shown: each task's winner is shown first exactly once.
    assert (bias.inconsistent, bias.compared) == (0, 4)
    assert bias.first_position_share == 0.5


def test_a_reward_model_gives_no_thumbs_and_the_job_says_so(project, reward_run):
    project.kind = FeedbackKind.THUMBS
    project.save()
    make_task(project, n_responses=1)

    job = run_all(rm_judge(project, reward_run))

    assert job.status == JobStatus.FAILED
    assert "gives no thumbs verdicts" in job.error


def test_a_principle_reward_model_answers_each_principle_of_each_response(
    project, principle_model_dir, settings, tmp_path
):
    from apps.projects.services import principle_save

    settings.MEDIA_ROOT = str(tmp_path / "storage")
    project.kind = FeedbackKind.PRINCIPLES
    project.save()
    polite = principle_save(project=project, key="polite", text=tiny.PRINCIPLES[0])
    accurate = principle_save(project=project, key="accurate", text=tiny.PRINCIPLES[1])
    make_task(project, texts=["the answer is here and kind", "this reply is rude and lazy"])
    run = succeeded_run(project, objective="reward_principle", model_dir=principle_model_dir)

    job = run_all(rm_judge(project, run))

    assert job.status == JobStatus.SUCCEEDED, job.error
    labels = list(JudgeLabel.objects.filter(judge__name="rm"))
    assert len(labels) == 2 and all(label.reply.startswith("Yes log-odds") for label in labels)
    for label in labels:
        verdicts = {
            (v["response"], v["principle"]): v["verdict"] for v in label.payload["verdicts"]
        }
        assert set(verdicts) == {(r, p.pk) for r in (0, 1) for p in (polite, accurate)}
        # Canonical positions whatever the order shown: the rude, lazy reply is not polite.
        assert verdicts[(1, polite.pk)] == "no"
