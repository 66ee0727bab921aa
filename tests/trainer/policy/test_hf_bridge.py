"""TRL's trainers (DPO, KTO) under the same launcher as our loop: two torchrun ranks on CPU (gloo) train one
global batch between them, and only the main rank evaluates and writes the run's files."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM

from tests.trainer import tiny
from tests.trainer.helpers import changed_weights
from trainer.errors import TrainerError
from trainer.events import TrainingCallbacks
from trainer.launcher import train_in_processes

CONFIG = {
    "learning_rate": 1e-3,
    "batch_size": 4,
    "max_steps": 3,
    "save_steps": 2,
    "num_threads": 1,
    "device": "cpu",
    "eval_max_prompts": 2,
    "eval_max_new_tokens": 4,
}
ROWS = {"dpo": tiny.pairwise_rows, "kto": tiny.unpaired_rows}


def launch(objective, tmp_path, write_rows, tiny_gpt2, *, stop_after=None, **overrides):
    steps, lines = [], []

    def should_stop() -> bool:
        return stop_after is not None and len(steps) >= stop_after

    result = train_in_processes(
        processes=2,
        objective=objective,
        config={**CONFIG, "model": str(tiny_gpt2), **overrides},
        train_path=write_rows("train", ROWS[objective](16, seed=1)),
        eval_path=write_rows("test", ROWS[objective](6, seed=2)),
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(
            on_progress=lambda event: steps.append(event),
            should_stop=should_stop,
            on_log=lines.append,
        ),
    )
    return result, steps, lines


@pytest.mark.parametrize("objective", ["dpo", "kto"])
def test_two_ranks_train_a_trl_objective_on_one_global_batch_and_write_once(
    objective, tmp_path, write_rows, tiny_gpt2
):
    result, steps, lines = launch(objective, tmp_path, write_rows, tiny_gpt2)

    assert result.status == "succeeded"
    # Each step reported once, by the main rank; 4 of the 16 rows per step across both ranks (global batch 4).
    assert [event.step for event in steps] == [1, 2, 3]
    assert [event.epoch for event in steps] == pytest.approx([0.25, 0.5, 0.75])
    # Only the main rank evaluated, saved and reported a result.
    assert sum(line.startswith("held-out:") for line in lines) == 1
    launch_log = (tmp_path / "out" / "launch" / "progress-1.log").read_text()
    assert launch_log.count('"status": "succeeded"') == 1
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["status"] == "succeeded"
    assert [entry["step"] for entry in metrics["history"] if "loss" in entry] == [1, 2, 3]
    assert changed_weights(tiny_gpt2, result.model_dir)
    AutoModelForCausalLM.from_pretrained(result.model_dir)


def test_a_cancel_seen_by_the_main_rank_stops_both_trl_ranks_at_the_same_step(
    tmp_path, write_rows, tiny_gpt2
):
    result, steps, lines = launch(
        "dpo", tmp_path, write_rows, tiny_gpt2, stop_after=1, max_steps=40
    )

    assert result.status == "cancelled"
    assert 1 <= len(steps) < 40
    assert any(line.startswith("stopped on request at step") for line in lines)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["status"] == "cancelled"


def test_kto_refuses_a_global_batch_that_leaves_a_rank_without_a_neighbour(
    tmp_path, write_rows, tiny_gpt2
):
    with pytest.raises(TrainerError, match="batch_size >= 4"):
        launch("kto", tmp_path, write_rows, tiny_gpt2, batch_size=2)
