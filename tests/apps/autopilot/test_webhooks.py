import pytest

from apps.autopilot.champions import champion_promote
from apps.autopilot.rules import rule_fire
from apps.autopilot.services import training_rule_create
from apps.training.models import RunStatus, TrainingRun
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels

pytestmark = pytest.mark.django_db


def test_endpoints_hear_rule_fired_and_model_promoted(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        project=pairwise_project,
        url="https://hooks.example.org/loop",
        events=["rule.fired", "model.promoted"],
        created_by=pairwise_project.created_by,
    )
    rule = training_rule_create(
        project=pairwise_project, user=pairwise_project.created_by, name="every 30",
        objective="reward_pairwise", config={"model": tiny_bert_ref, **REWARD_CONFIG},
        every_labels=30,
    )  # fmt: skip
    add_labels(pairwise_project, 30)
    with django_capture_on_commit_callbacks(execute=True):
        firing = rule_fire(rule_id=rule.pk)
    TrainingRun.objects.filter(pk=firing.run_id).update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        champion_promote(project=pairwise_project, run_id=firing.run_id, actor=rule.created_by)
    deliveries = {d.event: d.payload for d in WebhookDelivery.objects.all()}
    assert deliveries["rule.fired"]["run"] == firing.run_id
    assert deliveries["rule.fired"]["labels"] == 30 and deliveries["rule.fired"]["rule"] == rule.pk
    promoted = deliveries["model.promoted"]
    assert promoted["run"] == firing.run_id and promoted["family"] == "reward"
    assert promoted["by"] == f"user {rule.created_by.pk}" and promoted["snapshot_sha256"]
