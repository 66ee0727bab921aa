"""A run trained by two processes under the launcher: live progress, a cancel that stops every rank, and a
killed rank that the launcher resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal

import psutil

from tests.trainer import tiny
from trainer.events import TrainingCallbacks
from trainer.launcher import launcher_command, train_in_processes

CONFIG = {
    "learning_rate": 2e-3,
    "batch_size": 8,
    "save_steps": 2,
    "num_threads": 1,
    "device": "cpu",
}


def ranks() -> list[psutil.Process]:
    """The trainer processes under this test (not the launcher itself)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "trainer" in command and "torch.distributed.run" not in command:
            found.append(child)
    return found


def test_the_launcher_uses_torchrun_on_cpu_and_accelerate_on_gpus():
    assert launcher_command(processes=2, cuda=False)[2:6] == [
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    gpu = launcher_command(processes=4, cuda=True, accelerate_config="/etc/fsdp.yaml")
    assert gpu[2:8] == [
        "accelerate.commands.launch",
        "--config_file",
        "/etc/fsdp.yaml",
        "--num_processes",
        "4",
        "-m",
    ]


def test_two_processes_report_progress_live_and_a_cancel_stops_every_rank(
    tmp_path, write_rows, tiny_bert
):
    steps, lines = [], []
    result = train_in_processes(
        processes=2,
        objective="reward_pairwise",
        config={**CONFIG, "model": str(tiny_bert), "max_steps": 40},
        train_path=write_rows("train", tiny.pairwise_rows(40, seed=1)),
        eval_path=None,
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(
            on_progress=lambda event: steps.append(event.step),
            should_stop=lambda: len(steps) >= 3,
            on_log=lines.append,
        ),
    )
    assert result.status == "cancelled"
    assert steps[:3] == [1, 2, 3] and len(steps) < 40
    assert any("training on 2 processes" in line for line in lines)
    assert any(line.startswith("stopped on request at step") for line in lines)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["status"] == "cancelled"
    assert ranks() == []


def test_a_killed_rank_is_resumed_from_its_checkpoint_and_the_run_finishes(
    tmp_path, write_rows, tiny_bert
):
    steps, lines = [], []

    def kill_a_rank_once(event) -> None:
        steps.append(event.step)
        if event.step == 3 and not any("resuming" in line for line in lines):
            os.kill(ranks()[-1].pid, signal.SIGKILL)

    result = train_in_processes(
        processes=2,
        objective="reward_pairwise",
        # Enough steps that the ranks are still training when the relayed step 3 arrives, on a
        # fast machine too (progress reaches the launcher a little after the ranks make it).
        config={**CONFIG, "model": str(tiny_bert), "max_steps": 40},
        train_path=write_rows("train", tiny.pairwise_rows(40, seed=1)),
        eval_path=write_rows("test", tiny.pairwise_rows(10, seed=2)),
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(on_progress=kill_a_rank_once, on_log=lines.append),
    )
    assert result.status == "succeeded"
    assert any(line.startswith("a training process died") for line in lines)
    assert any(line.startswith("resuming from checkpoint-") for line in lines)
    assert steps[-1] == 40
    assert "pairwise_accuracy" in result.metrics
    assert ranks() == []
