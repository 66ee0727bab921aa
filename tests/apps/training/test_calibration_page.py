"""A reward-model run's page shows its ECE, a reliability diagram (data through json_script only), its
truncation counts and, where the data has categories, per-category accuracy."""

import json
import re

import pytest
from django.urls import reverse

from apps.training.models import RunStatus
from apps.training.services import training_run_launch
from apps.training.tasks import run_training

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pairwise_run_page_shows_ece_the_reliability_diagram_and_truncation_counts(
    client, labeled_project, tiny_bert_ref, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    run = training_run_launch(
        project=labeled_project,
        user=labeled_project.created_by,
        objective="reward_pairwise",
        config={"model": tiny_bert_ref, "batch_size": 8, "max_steps": 4, "max_length": 12},
    )
    run_training.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error

    client.force_login(labeled_project.created_by)
    html = client.get(reverse("training:detail", args=[run.pk])).content.decode()

    block = re.search(
        r'<script id="calibration-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert block, "the calibration data block is missing"
    calibration = json.loads(block.group(1))
    assert len(calibration["bins"]) == 10
    assert sum(b["count"] for b in calibration["bins"]) == 2 * run.eval_rows  # each pair both ways
    assert calibration["ece"] == pytest.approx(run.metrics["ece"])
    assert "js/reliability.js" in html and 'id="reliability-chart"' in html
    assert "expected calibration error (ECE)" in html
    assert "training rows whose prompt was cut (from the left)" in html
    assert run.metrics["rows_dropped"] == 0
