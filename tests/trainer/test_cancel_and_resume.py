"""Cooperative cancel through should_stop, and resume from the last checkpoint at the saved step."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from tests.trainer import tiny
from trainer import TrainingCallbacks, train


class StopAfter:
    """should_stop that turns True once `step` has been reported; records every progress step."""

    def __init__(self, step: int | None) -> None:
        self.stop_at = step
        self.steps: list[int] = []

    def on_progress(self, event) -> None:
        self.steps.append(event.step)

    def should_stop(self) -> bool:
        return self.stop_at is not None and bool(self.steps) and self.steps[-1] >= self.stop_at

    def callbacks(self) -> TrainingCallbacks:
        return TrainingCallbacks(on_progress=self.on_progress, should_stop=self.should_stop)


def reward_run(tmp_path, write_rows, tiny_bert, out, *, stop_at=None, resume=False):
    recorder = StopAfter(stop_at)
    result = train(
        objective="reward_pairwise",
        config={
            "model": str(tiny_bert),
            "learning_rate": 2e-3,
            "batch_size": 8,
            "max_steps": 8,
            "save_steps": 2,
        },
        train_path=write_rows("train", tiny.pairwise_rows(40, seed=1)),
        eval_path=write_rows("test", tiny.pairwise_rows(10, seed=2)),
        output_dir=tmp_path / out,
        callbacks=recorder.callbacks(),
        resume=resume,
    )
    return result, recorder.steps


def test_should_stop_cancels_at_once_and_leaves_a_resumable_checkpoint(
    tmp_path, write_rows, tiny_bert
):
    result, steps = reward_run(tmp_path, write_rows, tiny_bert, "run", stop_at=1)
    assert result.status == "cancelled"
    assert steps == [1]
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-1" / "state.pt").is_file()
    assert json.loads((result.model_dir / "reward_model.json").read_text())["finished"] is False
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "cancelled"


def test_resume_continues_at_the_saved_step_and_ends_where_an_uninterrupted_run_ends(
    tmp_path, write_rows, tiny_bert
):
    straight, straight_steps = reward_run(tmp_path, write_rows, tiny_bert, "straight")
    cancelled, first_steps = reward_run(tmp_path, write_rows, tiny_bert, "split", stop_at=3)
    resumed, resumed_steps = reward_run(tmp_path, write_rows, tiny_bert, "split", resume=True)

    assert cancelled.status == "cancelled" and first_steps == [1, 2, 3]
    assert resumed.status == "succeeded"
    assert resumed_steps == [4, 5, 6, 7, 8]
    assert straight_steps == list(range(1, 9))
    # Same data order, optimizer state and schedule: the weights match the uninterrupted run's.
    expected = load_file(str(straight.model_dir / "model.safetensors"))
    actual = load_file(str(resumed.model_dir / "model.safetensors"))
    assert all(torch.allclose(expected[k], actual[k], atol=1e-6) for k in expected)
    assert resumed.metrics["pairwise_accuracy"] == straight.metrics["pairwise_accuracy"]


def test_dpo_cancels_and_resumes_through_trl(tmp_path, write_rows, tiny_gpt2):
    config = {
        "model": str(tiny_gpt2),
        "learning_rate": 1e-3,
        "batch_size": 2,
        "max_steps": 5,
        "save_steps": 10,
    }
    paths = {
        "train_path": write_rows("train", tiny.pairwise_rows(16, seed=1)),
        "output_dir": tmp_path / "dpo",
    }

    first = StopAfter(2)
    cancelled = train(objective="dpo", config=config, callbacks=first.callbacks(), **paths)
    assert cancelled.status == "cancelled"
    assert first.steps == [1, 2]
    assert (tmp_path / "dpo" / "checkpoints" / "checkpoint-2").is_dir()

    second = StopAfter(None)
    resumed = train(
        objective="dpo", config=config, callbacks=second.callbacks(), resume=True, **paths
    )
    assert resumed.status == "succeeded"
    assert second.steps == [3, 4, 5]


def test_lipo_resumes_with_its_saved_reference_log_probs(tmp_path, write_rows, tiny_gpt2):
    config = {
        "model": str(tiny_gpt2),
        "learning_rate": 1e-3,
        "batch_size": 2,
        "max_steps": 4,
        "save_steps": 0,
    }
    paths = {
        "train_path": write_rows("train", tiny.listwise_rows(8, seed=1)),
        "output_dir": tmp_path / "lipo",
    }
    first = StopAfter(1)
    assert (
        train(objective="lipo", config=config, callbacks=first.callbacks(), **paths).status
        == "cancelled"
    )
    second = StopAfter(None)
    resumed = train(
        objective="lipo", config=config, callbacks=second.callbacks(), resume=True, **paths
    )
    assert resumed.status == "succeeded"
    assert second.steps == [2, 3, 4]
