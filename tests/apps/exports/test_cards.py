"""Every snapshot carries a dataset card (README.md, Hugging Face format) whose fields match the
data: columns, annotators, Krippendorff's α, gold accuracy, exclusions, options and hash."""

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.exports.models import ExportKind
from apps.exports.services import snapshot_create
from apps.feedback.models import Judgment
from apps.projects.models import Membership
from apps.quality.selectors import annotator_quality_table
from tests.apps.exports.helpers import judge
from tests.factories import UserFactory, add_member, api_token, make_task

pytestmark = pytest.mark.django_db


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture
def labelled(project):
    """Two counted annotators who agree on six tasks, one of whose judgments an admin excluded;
    an excluded annotator who disagrees with them; two gold tasks."""
    agree = [add_member(project, UserFactory()) for _ in range(2)]
    contrary = add_member(project, UserFactory())
    tasks = [make_task(project) for _ in range(6)]
    for i, task in enumerate(tasks):
        choice = "AB"[i % 2]
        for annotator in agree:
            judge(task, annotator, {"choice": choice, "strength": "clearly"})
        judge(task, contrary, {"choice": "BA"[i % 2], "strength": "much"})
    Judgment.objects.filter(task=tasks[0], annotator=agree[0]).update(excluded_at=timezone.now())
    for gold in (make_task(project, is_gold=True, gold_payload={"choice": "A"}) for _ in range(2)):
        judge(gold, agree[0], {"choice": "A", "strength": "clearly"})
        judge(gold, agree[1], {"choice": "A" if gold.pk % 2 else "B", "strength": "clearly"})
        judge(gold, contrary, {"choice": "B", "strength": "clearly"})
    Membership.objects.filter(project=project, user=contrary).update(excluded_at=timezone.now())
    return project


def test_a_snapshot_card_states_the_data_as_it_was_frozen(labelled, admin_user, settings):
    settings.ARBITER_DATASET_LICENSE = "cc-by-4.0"
    snapshot = snapshot_create(
        project=labelled, kind="pairs", options={"split": 0.5, "split_seed": 7}, user=admin_user
    )
    card = snapshot.card
    meta = front_matter(card)

    assert meta["license"] == "cc-by-4.0"
    assert meta["task_categories"] == ["text-generation", "reinforcement-learning"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": snapshot.file_name}]}
    ]
    assert meta["size_categories"] == ["n<1K"]
    # 6 tasks x 2 counted annotators, less the excluded judgment; gold and the excluded
    # annotator's rows never leave.
    assert snapshot.row_count == 11
    assert f"- Rows: 11 (train side {snapshot.row_counts['train']}," in card
    assert f"- Feedback kind: `{labelled.kind}`" in card
    for column in snapshot.columns:
        assert f"| `{column}` |" in card
    assert "- Annotators whose judgments may be exported: 2\n" in card
    # The two counted annotators agree wherever both count; the contrary one is excluded.
    quality = annotator_quality_table(project=labelled)
    assert quality.agreement.alpha == pytest.approx(1.0)
    assert "- Krippendorff's α: 1.000 (interval;" in card
    gold_right = 2 + sum(1 for t in labelled.tasks.filter(is_gold=True) if t.pk % 2)
    assert f"- Gold accuracy: {gold_right / 4:.3f} ({gold_right} of 4 gold judgments" in card
    assert "- Judgments excluded by an admin: 1\n" in card
    assert "(excluded, or not qualified): 1\n" in card
    assert "| `split` | `0.5` |" in card and "| `split_seed` | `7` |" in card
    assert f"sha256 of the file's bytes: `{snapshot.sha256}`" in card


def test_a_card_without_agreement_or_gold_says_so(project, admin_user):
    annotator = add_member(project, UserFactory())
    judge(make_task(project), annotator, {"choice": "A", "strength": "clearly"})

    card = snapshot_create(project=project, kind=ExportKind.PAIRS, options=None, user=admin_user)
    card = card.card

    assert front_matter(card)["tags"] == ["arbiter", "human-feedback", "pairs"]

    assert "- Krippendorff's α: n/a (interval;" in card
    assert "- Gold accuracy: n/a (0 of 0 gold judgments" in card
    assert "- Rows left out of this file: none" in card


def test_a_hostile_project_name_stays_inline_code_in_the_card(project, admin_user):
    project.name = "x`\n---\nlicense: mit"
    project.save()

    card = snapshot_create(project=project, kind="pairs", options=None, user=admin_user).card

    assert front_matter(card)["license"] == "other"
    assert "\n# `` x` --- license: mit ``:" in card


def test_the_card_downloads_as_readme_md_beside_the_snapshot(labelled, admin_user, client):
    snapshot = snapshot_create(project=labelled, kind="pairs", options=None, user=admin_user)
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token(admin_user)}"}

    listed = client.get(f"/api/projects/{labelled.pk}/snapshots/", **auth).json()["results"][0]
    response = client.get(listed["card_url"], **auth)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="README.md"'
    assert response.content.decode() == snapshot.card


def test_pushing_to_the_hub_refuses_without_a_configured_token(labelled, admin_user, settings):
    settings.ARBITER_HF_HUB_TOKEN = ""
    snapshot = snapshot_create(project=labelled, kind="pairs", options=None, user=admin_user)

    with pytest.raises(CommandError, match="ARBITER_HF_HUB_TOKEN is not set"):
        call_command("push_snapshot_to_hub", "--snapshot", snapshot.pk, "--repo", "me/data")
