import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.autopilot.models import ModelDecision, TrainingRule
from apps.training.models import RunStatus, TrainingRun
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels
from tests.factories import api_token

pytestmark = pytest.mark.django_db


def admin_api(project, scope="admin") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(project.created_by, scope=scope)}")
    return client


def test_rules_are_made_listed_with_their_progress_changed_and_removed_over_the_api(
    pairwise_project, tiny_bert_ref
):
    api = admin_api(pairwise_project)
    url = f"/api/projects/{pairwise_project.pk}/rules/"
    body = {
        "name": "nightly",
        "objective": "reward_pairwise",
        "config": {"model": tiny_bert_ref, **REWARD_CONFIG},
        "every_labels": 500,
        "min_alpha": 0.4,
    }
    made = api.post(url, body, format="json")
    assert made.status_code == 201, made.json()
    add_labels(pairwise_project, 12)
    listed = api.get(url).json()
    assert [(r["name"], r["progress"], r["new_labels"]) for r in listed] == [
        ("nightly", "12 / 500 new labels", 12)
    ]
    rule_url = f"{url}{made.json()['id']}/"
    assert (
        api.patch(rule_url, {"enabled": False}, format="json").json()["progress"] == "switched off"
    )
    refused = api.patch(
        rule_url, {"config": {"model": tiny_bert_ref, "lerning_rate": 1}}, format="json"
    )
    assert refused.status_code == 400 and "Invalid training config" in str(refused.json())
    assert api.delete(rule_url).status_code == 204 and not TrainingRule.objects.exists()


def test_a_read_token_cannot_add_a_rule_nor_promote(pairwise_project, tiny_bert_ref):
    api = admin_api(pairwise_project, scope="read")
    refused = api.post(
        f"/api/projects/{pairwise_project.pk}/rules/",
        {
            "name": "x",
            "objective": "reward_pairwise",
            "config": {"model": tiny_bert_ref},
            "every_labels": 5,
        },
        format="json",
    )
    assert refused.status_code == 403 and not TrainingRule.objects.exists()
    assert api.get(f"/api/projects/{pairwise_project.pk}/champions/").status_code == 200


def test_admins_promote_and_roll_back_over_the_api_and_see_every_decision(pairwise_project):
    api = admin_api(pairwise_project)
    runs = [
        TrainingRun.objects.create(
            project=pairwise_project, objective="reward_pairwise", family="reward", config={},
            status=RunStatus.SUCCEEDED, created_by=pairwise_project.created_by,
        )
        for _ in range(2)
    ]  # fmt: skip
    url = f"/api/projects/{pairwise_project.pk}/champions/"
    for run in runs:
        assert api.post(url, {"run": run.pk, "reason": "by hand"}, format="json").status_code == 201
    back = api.post(f"{url}rollback/", {"family": "reward"}, format="json")
    assert back.status_code == 201 and back.json()["decision"] == "rolled_back"
    seen = api.get(url).json()
    assert seen["reward"] == runs[0].pk and seen["policy"] is None
    assert [d["decision"] for d in seen["decisions"]] == ["rolled_back", "promoted", "promoted"]
    assert ModelDecision.objects.count() == 3


def test_the_chain_stages_are_switched_over_the_api_and_checked_as_a_launch(
    pairwise_project, tiny_bert_ref
):
    api = admin_api(pairwise_project)
    url = f"/api/projects/{pairwise_project.pk}/autopilot/"
    assert api.get(url).json()["train_policy"] is False
    refused = api.patch(
        url, {"train_policy": True, "base_model": "hub:no-such/model"}, format="json"
    )
    assert refused.status_code == 400
    assert api.get(url).json()["train_policy"] is False  # nothing half-saved
    ok = api.patch(url, {"start_round": True, "round_prompts": 8}, format="json")
    assert ok.status_code == 200 and ok.json()["start_round"] is True


def test_the_autopilot_page_shows_rules_progress_champions_and_the_timeline(
    client, pairwise_project, tiny_bert_ref
):
    client.force_login(pairwise_project.created_by)
    url = reverse("autopilot:home", args=[pairwise_project.pk])
    made = client.post(
        url,
        {
            "action": "create", "name": "<b>every 30</b>", "objective": "reward_pairwise",
            "config": f'{{"model": "{tiny_bert_ref}"}}', "every_labels": "30",
        },
    )  # fmt: skip
    assert made.status_code == 302
    add_labels(pairwise_project, 7)
    page = client.get(url).content.decode()
    assert "7 / 30 new labels" in page and "&lt;b&gt;every 30&lt;/b&gt;" in page
    assert "7 labels" in page  # the timeline's labels arriving
    bad = client.post(url, {"action": "create", "name": "x", "objective": "reward_pairwise",
                            "config": "{not json", "every_labels": "3"})  # fmt: skip
    assert bad.status_code == 200 and "not JSON" in bad.content.decode()
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "7 / 30 new labels" in partial
