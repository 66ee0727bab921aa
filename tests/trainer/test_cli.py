"""`python -m trainer train` runs end to end in a fresh process, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.trainer import tiny

ROOT = Path(__file__).resolve().parents[2]


def test_cli_trains_and_writes_model_and_metrics(tmp_path, tiny_bert):
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {
                "objective": "reward_pairwise",
                "model": str(tiny_bert),
                "max_steps": 3,
                "batch_size": 8,
            }
        )
    )
    train_path = tiny.write_jsonl(tiny.pairwise_rows(24, seed=1), tmp_path / "train.jsonl")
    test_path = tiny.write_jsonl(tiny.pairwise_rows(8, seed=2), tmp_path / "test.jsonl")
    out = tmp_path / "out"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            "train",
            "--config",
            str(config),
            "--data",
            str(train_path),
            "--eval-data",
            str(test_path),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    assert "step 3/3" in completed.stdout
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    metrics = json.loads((out / "metrics.json").read_text())
    assert "pairwise_accuracy" in metrics["metrics"]
    assert (out / "model" / "reward_model.json").is_file()


def test_cli_reports_bad_input_with_exit_status_2(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"objective": "reward_pairwise"}))
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            "train",
            "--config",
            str(config),
            "--data",
            str(tmp_path / "nope.jsonl"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 2
    assert "dataset file not found" in completed.stderr
