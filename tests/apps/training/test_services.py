import pytest

from apps.core.errors import ApplicationError, Conflict
from apps.projects.models import Role
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import objectives_for_project, training_run_cancel, training_run_launch
from tests.apps.training.conftest import seed_pairwise_labels

pytestmark = pytest.mark.django_db


def launch(project, **kwargs):
    return training_run_launch(project=project, user=project.created_by, **kwargs)


def test_launch_freezes_a_snapshot_split_by_prompt_and_queues_on_commit(
    labeled_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = launch(labeled_project, objective="reward_pairwise", config={"model": tiny_bert_ref})
    assert run.status == RunStatus.QUEUED and len(callbacks) == 1
    assert run.snapshot.kind == "pairs" and len(run.snapshot.sha256) == 64
    assert run.train_rows + run.eval_rows == 40 and run.eval_rows >= 2


def test_objectives_offered_follow_the_projects_data(labeled_project):
    offered = objectives_for_project(project=labeled_project)
    assert {"reward_pairwise", "dpo", "raft"} <= set(offered)
    assert "reward_listwise" not in offered and "kto" not in offered


def test_wrong_data_kind_for_the_objective_is_refused(labeled_project):
    with pytest.raises(ApplicationError, match="listwise data"):
        launch(labeled_project, objective="reward_listwise")


def test_too_few_labels_is_refused_with_the_counts(project, tiny_bert_ref):
    seed_pairwise_labels(project, prompts=3)
    with pytest.raises(ApplicationError, match="Too few labels"):
        launch(project, objective="reward_pairwise", config={"model": tiny_bert_ref})


def test_a_model_id_that_is_not_offered_is_refused_not_downloaded(labeled_project):
    with pytest.raises(ApplicationError, match="'hub:no-such-org/no-such-model' is not one of"):
        launch(labeled_project, objective="dpo", config={"model": "hub:no-such-org/no-such-model"})
    assert not TrainingRun.objects.exists()


def test_a_typo_in_the_config_is_refused(labeled_project, tiny_bert_ref):
    with pytest.raises(ApplicationError, match="Invalid training config"):
        launch(
            labeled_project,
            objective="reward_pairwise",
            config={"model": tiny_bert_ref, "lerning_rate": 1},
        )


def test_cancelling_a_queued_run_ends_it_at_once_and_twice_is_a_conflict(
    labeled_project, tiny_bert_ref
):
    run = launch(labeled_project, objective="reward_pairwise", config={"model": tiny_bert_ref})
    assert training_run_cancel(run=run).status == RunStatus.CANCELLED
    with pytest.raises(Conflict):
        training_run_cancel(run=run)


def test_a_succeeded_policy_run_can_answer_in_its_chat_project(tmp_path, settings):
    from apps.training.services import policy_run_use_as_chat_backend
    from tests.factories import ProjectFactory

    project = ProjectFactory(kind="chat")
    from apps.projects.models import Membership

    Membership.objects.create(project=project, user=project.created_by, role=Role.ADMIN)
    run = TrainingRun.objects.create(
        project=project,
        objective="kto",
        family="policy",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
        output_dir="runs/x",
    )
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "runs/x/output/model").mkdir(parents=True)
    (tmp_path / "runs/x/output/model/config.json").write_text("{}")
    policy_run_use_as_chat_backend(run=run, user=project.created_by)
    project.refresh_from_db()
    assert project.generation_backend["type"] == "transformers"
    assert project.generation_backend["model"] == f"run:{run.pk}"
    reward = TrainingRun.objects.create(
        project=project,
        objective="reward_reaction",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
    )
    with pytest.raises(ApplicationError, match="policy run"):
        policy_run_use_as_chat_backend(run=reward, user=project.created_by)
