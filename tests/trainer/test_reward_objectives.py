"""Each reward objective trains end to end on CPU with a tiny BERT, and the saved model scores responses."""

from __future__ import annotations

import json

import pytest

from tests.trainer import tiny
from tests.trainer.helpers import changed_weights, fell, losses
from trainer import TrainingCallbacks, train
from trainer.scoring import load_reward_model

FAST = {"learning_rate": 2e-3, "batch_size": 8, "num_threads": 2, "save_steps": 0}


def run(objective, config, train_rows, eval_rows, tmp_path, write_rows, **kwargs):
    return train(
        objective=objective,
        config=config,
        train_path=write_rows("train", train_rows),
        eval_path=write_rows("test", eval_rows),
        output_dir=tmp_path / "out",
        **kwargs,
    )


def test_pairwise_reward_model_learns_changes_weights_and_reports_progress(
    tmp_path, write_rows, tiny_bert
):
    events = []
    result = run(
        "reward_pairwise",
        {**FAST, "model": str(tiny_bert), "max_steps": 30},
        tiny.pairwise_rows(240, seed=1, margin=True),
        tiny.pairwise_rows(40, seed=2),
        tmp_path,
        write_rows,
        callbacks=TrainingCallbacks(on_progress=events.append),
    )
    assert result.status == "succeeded"
    assert changed_weights(tiny_bert, result.model_dir)
    assert fell(losses(result.history))
    assert [e.step for e in events] == list(range(1, 31))
    assert all(
        e.total_steps == 30 and e.loss is not None and e.eta_seconds is not None for e in events
    )
    assert 0.0 <= result.metrics["pairwise_accuracy"] <= 1.0
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["status"] == "succeeded"
    assert saved["metrics"]["pairwise_accuracy"] == result.metrics["pairwise_accuracy"]


def test_pairwise_reward_model_beats_90_percent_held_out(tmp_path, write_rows, tiny_bert):
    # Chosen replies carry "good" words and rejected ones "bad" words; 2 epochs of 256 pairs suffice.
    result = run(
        "reward_pairwise",
        {**FAST, "model": str(tiny_bert), "learning_rate": 1e-3, "batch_size": 16, "num_epochs": 2},
        tiny.pairwise_rows(256, seed=1),
        tiny.pairwise_rows(200, seed=2),
        tmp_path,
        write_rows,
    )
    assert result.metrics["pairwise_accuracy"] > 0.9


@pytest.mark.parametrize("loss", ["lipo_lambda", "plackett_luce"])
def test_listwise_reward_model_trains_and_reports_ranking_metrics(
    tmp_path, write_rows, tiny_bert, loss
):
    result = run(
        "reward_listwise",
        {**FAST, "model": str(tiny_bert), "loss": loss, "batch_size": 4, "max_steps": 16},
        tiny.listwise_rows(64, seed=1),
        tiny.listwise_rows(20, seed=2),
        tmp_path,
        write_rows,
    )
    assert changed_weights(tiny_bert, result.model_dir)
    assert fell(losses(result.history))
    assert {"ndcg", "kendall_tau", "pairwise_accuracy"} <= set(result.metrics)


def test_principle_reward_model_reports_per_principle_auroc_and_scores_by_mean_log_odds(
    tmp_path, write_rows, tiny_bert
):
    principle_ids = {"is polite": 7, "is accurate": 8}  # the web app's principle version ids
    train_rows, eval_rows = tiny.principle_rows(128, seed=1), tiny.principle_rows(60, seed=2)
    for row in train_rows + eval_rows:
        row["principle_id"] = principle_ids[row["principle"]]
    result = run(
        "reward_principle",
        {**FAST, "model": str(tiny_bert), "max_steps": 16},
        train_rows,
        eval_rows,
        tmp_path,
        write_rows,
    )
    assert changed_weights(tiny_bert, result.model_dir)
    assert fell(losses(result.history))
    assert {"auroc/principle-7", "auroc/principle-8", "accuracy", "pairwise_accuracy"} <= set(
        result.metrics
    )

    scorer = load_reward_model(result.model_dir)
    polite = scorer.score(["the bread"], ["the answer is rude"], principles=["is polite"])
    accurate = scorer.score(["the bread"], ["the answer is rude"], principles=["is accurate"])
    both = scorer.score(["the bread"], ["the answer is rude"])  # principles seen in training
    assert both[0] == pytest.approx((polite[0] + accurate[0]) / 2, abs=1e-5)


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_reaction_model_reports_per_reaction_auroc_and_scores_p_love(
    tmp_path, write_rows, tiny_bert, head
):
    result = run(
        "reward_reaction",
        {**FAST, "model": str(tiny_bert), "head": head, "max_steps": 12},
        tiny.reaction_rows(96, seed=1),
        tiny.reaction_rows(60, seed=2),
        tmp_path,
        write_rows,
    )
    assert changed_weights(tiny_bert, result.model_dir)
    assert {"auroc/love", "auroc/angry", "accuracy"} <= set(result.metrics)
    scores = load_reward_model(result.model_dir).score(
        ["the dogs", "the dogs"], [" great clear", " rude wrong"]
    )
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_lora_reward_model_trains_adapters_and_saves_them_merged(tmp_path, write_rows, tiny_bert):
    result = run(
        "reward_pairwise",
        {**FAST, "model": str(tiny_bert), "lora": True, "lora_r": 4, "max_steps": 6},
        tiny.pairwise_rows(48, seed=1),
        tiny.pairwise_rows(10, seed=2),
        tmp_path,
        write_rows,
    )
    changed = changed_weights(tiny_bert, result.model_dir)
    # LoRA adapts linear layers only: merged attention/FFN weights move, embeddings stay.
    assert changed and all("embeddings" not in name for name in changed)
    scores = load_reward_model(result.model_dir).score(["the bread"], [" great"])
    assert len(scores) == 1


def test_scorer_matches_training_order_on_held_out_pairs(tmp_path, write_rows, tiny_bert):
    result = run(
        "reward_pairwise",
        {**FAST, "model": str(tiny_bert), "max_steps": 10},
        tiny.pairwise_rows(80, seed=1),
        tiny.pairwise_rows(30, seed=2),
        tmp_path,
        write_rows,
    )
    rows = tiny.pairwise_rows(30, seed=2)
    scorer = load_reward_model(result.model_dir)
    chosen = scorer.score([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    rejected = scorer.score([r["prompt"] for r in rows], [r["rejected"] for r in rows])
    accuracy = sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(rows)
    assert accuracy == pytest.approx(result.metrics["pairwise_accuracy"], abs=1e-9)


def test_chat_prompts_and_overlong_inputs_are_trained_on_not_dropped(
    tmp_path, write_rows, tiny_bert
):
    rows = tiny.pairwise_rows(24, seed=1)
    for row in rows[:8]:
        row["prompt"] = [{"role": "user", "content": row["prompt"]}]
        row["chosen"] = row["chosen"] + " clear" * 40  # far past max_length
    lines = []
    result = run(
        "reward_pairwise",
        {**FAST, "model": str(tiny_bert), "max_length": 24, "max_steps": 3},
        rows,
        tiny.pairwise_rows(6, seed=2),
        tmp_path,
        write_rows,
        callbacks=TrainingCallbacks(on_log=lines.append),
    )
    assert result.status == "succeeded"
    assert any("8 of 24 training examples were truncated" in line for line in lines)
    assert any("24 training examples" in line for line in lines)
