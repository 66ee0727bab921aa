"""The sft objective: TRL's SFTTrainer on (prompt, completion) rows with a tiny GPT-2 on CPU;
progress, cancel and resume as the other TRL-driven runs; its output can start a DPO run."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM

from tests.trainer import tiny
from tests.trainer.helpers import changed_weights, fell, losses
from tests.trainer.test_cancel_and_resume import StopAfter
from trainer import train
from trainer.errors import DatasetError


def sft_rows(count: int, *, seed: int) -> list[dict]:
    """Demonstrations: each prompt answered with a 'good' reply, learnable from its words."""
    return [
        {"prompt": row["prompt"], "completion": row["chosen"]}
        for row in tiny.pairwise_rows(count, seed=seed)
    ]


FAST = {
    "batch_size": 4,
    "save_steps": 0,
    "num_threads": 2,
    "eval_max_prompts": 2,
    "eval_max_new_tokens": 4,
}


def test_sft_lowers_the_held_out_completion_loss_and_saves_a_plain_model(
    tmp_path, write_rows, tiny_gpt2
):
    config = {**FAST, "model": str(tiny_gpt2), "lora": False, "learning_rate": 3e-3}
    config["max_steps"] = 12
    result = train(
        objective="sft",
        config=config,
        train_path=write_rows("train", sft_rows(24, seed=1)),
        eval_path=write_rows("test", sft_rows(6, seed=2)),
        output_dir=tmp_path / "out",
    )

    assert result.status == "succeeded"
    assert fell(losses(result.history))
    assert result.metrics["completion_nll"] < result.metrics["base_completion_nll"]
    assert "kl_to_reference" in result.metrics
    assert changed_weights(tiny_gpt2, result.model_dir)
    AutoModelForCausalLM.from_pretrained(result.model_dir)


def test_sft_with_lora_by_default_saves_the_adapters_merged(tmp_path, write_rows, tiny_gpt2):
    result = train(
        objective="sft",
        config={**FAST, "model": str(tiny_gpt2), "lora_r": 4, "max_steps": 2},
        train_path=write_rows("train", sft_rows(8, seed=1)),
        eval_path=None,
        output_dir=tmp_path / "out",
    )

    assert result.status == "succeeded"
    changed = changed_weights(tiny_gpt2, result.model_dir)
    assert changed and all("wte" not in name for name in changed)  # LoRA leaves embeddings alone
    assert not (result.model_dir / "adapter_config.json").exists()
    metadata = json.loads((result.model_dir / "arbiter_policy.json").read_text())
    assert metadata["objective"] == "sft"


def test_sft_reads_the_conversational_completion_form(tmp_path, write_rows, tiny_gpt2):
    rows = [
        {
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "completion": [{"role": "assistant", "content": row["completion"]}],
        }
        for row in sft_rows(8, seed=3)
    ]
    result = train(
        objective="sft",
        config={**FAST, "model": str(tiny_gpt2), "max_steps": 1},
        train_path=write_rows("train", rows),
        eval_path=None,
        output_dir=tmp_path / "out",
    )
    assert result.status == "succeeded"


def test_a_row_without_a_completion_is_refused_with_its_line(tmp_path, write_rows, tiny_gpt2):
    rows = sft_rows(4, seed=1)
    rows[2]["completion"] = "   "
    with pytest.raises(DatasetError, match="row 3: column 'completion'"):
        train(
            objective="sft",
            config={**FAST, "model": str(tiny_gpt2), "max_steps": 1},
            train_path=write_rows("train", rows),
            eval_path=None,
            output_dir=tmp_path / "out",
        )


def test_sft_cancels_and_resumes_through_trl(tmp_path, write_rows, tiny_gpt2):
    config = {"model": str(tiny_gpt2), "batch_size": 2, "max_steps": 5, "save_steps": 10}
    paths = {"train_path": write_rows("train", sft_rows(12, seed=1)), "output_dir": tmp_path / "s"}

    first = StopAfter(2)
    cancelled = train(objective="sft", config=config, callbacks=first.callbacks(), **paths)
    assert cancelled.status == "cancelled"
    assert first.steps == [1, 2]
    assert (tmp_path / "s" / "checkpoints" / "checkpoint-2").is_dir()

    second = StopAfter(None)
    resumed = train(
        objective="sft", config=config, callbacks=second.callbacks(), resume=True, **paths
    )
    assert resumed.status == "succeeded"
    assert second.steps == [3, 4, 5]


def test_dpo_starts_from_the_policy_an_sft_run_saved(tmp_path, write_rows, tiny_gpt2):
    warm = train(
        objective="sft",
        config={**FAST, "model": str(tiny_gpt2), "max_steps": 2},
        train_path=write_rows("train", sft_rows(8, seed=1)),
        eval_path=None,
        output_dir=tmp_path / "sft",
    )
    dpo = train(
        objective="dpo",
        config={**FAST, "model": str(warm.model_dir), "learning_rate": 1e-3, "max_steps": 2},
        train_path=write_rows("pairs", tiny.pairwise_rows(8, seed=1)),
        eval_path=None,
        output_dir=tmp_path / "dpo",
    )

    assert dpo.status == "succeeded"
    assert changed_weights(warm.model_dir, dpo.model_dir)
