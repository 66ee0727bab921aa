"""Each policy objective trains end to end on CPU with a tiny GPT-2 and reports its held-out metrics."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM

from tests.trainer import tiny
from tests.trainer.helpers import changed_weights
from trainer import train

FAST = {
    "learning_rate": 1e-3,
    "batch_size": 4,
    "max_steps": 3,
    "save_steps": 0,
    "num_threads": 2,
    "eval_max_prompts": 4,
    "eval_max_new_tokens": 8,
}


def run(objective, config, train_rows, eval_rows, tmp_path, write_rows):
    return train(
        objective=objective,
        config=config,
        train_path=write_rows("train", train_rows),
        eval_path=write_rows("test", eval_rows),
        output_dir=tmp_path / "out",
    )


@pytest.mark.parametrize("loss_type", [["sigmoid"], ["ipo"], ["hinge"], ["robust"]])
def test_dpo_variants_train_and_report_kl_and_win_rate(
    tmp_path, write_rows, tiny_gpt2, tiny_reward_model, loss_type
):
    config = {
        **FAST,
        "model": str(tiny_gpt2),
        "loss_type": loss_type,
        "judge_reward_model": str(tiny_reward_model),
    }
    if loss_type == ["robust"]:
        config["label_smoothing"] = 0.1
    result = run(
        "dpo",
        config,
        tiny.pairwise_rows(16, seed=1),
        tiny.pairwise_rows(6, seed=2),
        tmp_path,
        write_rows,
    )
    assert result.status == "succeeded"
    assert changed_weights(tiny_gpt2, result.model_dir)
    assert {"pairwise_accuracy", "kl_to_reference", "win_rate_vs_base"} <= set(result.metrics)
    assert 0.0 <= result.metrics["win_rate_vs_base"] <= 1.0
    # The saved directory is a plain causal LM.
    AutoModelForCausalLM.from_pretrained(result.model_dir)


def test_dpo_with_lora_saves_a_merged_model(tmp_path, write_rows, tiny_gpt2):
    config = {**FAST, "model": str(tiny_gpt2), "lora": True, "lora_r": 4}
    result = run(
        "dpo",
        config,
        tiny.pairwise_rows(16, seed=1),
        tiny.pairwise_rows(4, seed=2),
        tmp_path,
        write_rows,
    )
    changed = changed_weights(tiny_gpt2, result.model_dir)
    assert changed and all("wte" not in name for name in changed)
    assert not (result.model_dir / "adapter_config.json").exists()


@pytest.mark.parametrize("lora", [False, True])
@pytest.mark.parametrize(
    ("objective", "config", "train_rows", "eval_rows", "metrics"),
    [
        # KTO learns from unpaired thumbs-up/down labels.
        (
            "kto",
            {},
            tiny.unpaired_rows(16, seed=1),
            tiny.unpaired_rows(8, seed=2),
            {"kl_to_reference"},
        ),
        # LiPO learns from ranked lists.
        (
            "lipo",
            {"batch_size": 2},
            tiny.listwise_rows(8, seed=1),
            tiny.listwise_rows(3, seed=2),
            {"ndcg", "kendall_tau", "pairwise_accuracy", "kl_to_reference"},
        ),
    ],
    ids=["kto", "lipo"],
)
def test_kto_and_lipo_train_with_or_without_lora_and_report_held_out_metrics(
    tmp_path, write_rows, tiny_gpt2, objective, config, train_rows, eval_rows, metrics, lora
):
    config = {**FAST, "model": str(tiny_gpt2), "lora": lora, "lora_r": 4, **config}
    result = run(objective, config, train_rows, eval_rows, tmp_path, write_rows)
    assert result.status == "succeeded"
    assert changed_weights(tiny_gpt2, result.model_dir)
    assert metrics <= set(result.metrics)


@pytest.mark.parametrize("lora", [False, True])
def test_raft_fine_tunes_on_the_reward_models_best_samples(
    tmp_path, write_rows, tiny_gpt2, tiny_reward_model, lora
):
    config = {
        **FAST,
        "model": str(tiny_gpt2),
        "reward_model": str(tiny_reward_model),
        "num_samples": 3,
        "lora": lora,
        "lora_r": 4,
    }
    result = run(
        "raft",
        config,
        tiny.prompt_rows(8, seed=1),
        tiny.prompt_rows(4, seed=2),
        tmp_path,
        write_rows,
    )
    assert result.status == "succeeded"
    assert changed_weights(tiny_gpt2, result.model_dir)
    # The kept sample is the best of the N by construction.
    assert result.metrics["raft_best_reward"] >= result.metrics["raft_sample_reward"]
    assert "win_rate_vs_base" in result.metrics
    assert (tmp_path / "out" / "raft_samples.jsonl").is_file()


def test_raft_needs_a_reward_model(tmp_path, write_rows, tiny_gpt2):
    from trainer import ConfigError

    with pytest.raises(ConfigError, match="reward_model"):
        run(
            "raft", {"model": str(tiny_gpt2)}, tiny.prompt_rows(8, seed=1), [], tmp_path, write_rows
        )
