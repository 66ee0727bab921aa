"""The reward-hacking watch runs at the held-out evaluation of every policy objective, not only the
online ones: an offline DPO run reports it from its judge and its held-out judge."""

from __future__ import annotations

import pytest

from tests.trainer import tiny
from trainer import train


def test_dpo_reports_the_watch_beside_kl_and_length(
    tmp_path, write_rows, tiny_gpt2, tiny_reward_model
):
    result = train(
        objective="dpo",
        config={
            "model": str(tiny_gpt2),
            "learning_rate": 1e-3,
            "max_steps": 2,
            "save_steps": 0,
            "eval_max_prompts": 3,
            "eval_max_new_tokens": 6,
            "judge_reward_model": str(tiny_reward_model),
            "heldout_judge_reward_model": str(tiny_reward_model),
        },
        train_path=write_rows("train", tiny.pairwise_rows(8, seed=1)),
        eval_path=write_rows("test", tiny.pairwise_rows(3, seed=2)),
        output_dir=tmp_path / "out",
    )
    metrics = result.metrics
    # Without a reward of its own, DPO's training reward is the judge: the reward model of its labels.
    assert metrics["watch_train_reward_gain"] == pytest.approx(
        metrics["judge_reward"] - metrics["judge_reward_base"]
    )
    assert metrics["watch_heldout_judge_gain"] == pytest.approx(metrics["watch_train_reward_gain"])
    assert metrics["watch_hacking_suspected"] == 0.0
    assert metrics["response_length"] > 0 and metrics["response_length_base"] > 0
    assert "kl_to_reference" in metrics
