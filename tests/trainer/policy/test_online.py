"""GRPO and RLOO train a tiny GPT-2 on CPU against reward models, regexes and registered checkers."""

from __future__ import annotations

import json
import re

import pytest

from tests.trainer import tiny
from tests.trainer.helpers import changed_weights
from trainer import train
from trainer.errors import ConfigError
from trainer.policy.rewards import (
    RewardFunctionError,
    register_checker,
    unregister_checker,
)

FAST = {
    "learning_rate": 1e-3,
    "batch_size": 2,
    "num_generations": 2,
    "max_steps": 2,
    "max_new_tokens": 6,
    "save_steps": 0,
    "num_threads": 2,
    "eval_max_prompts": 3,
    "eval_max_new_tokens": 6,
}


def run(objective, config, tmp_path, write_rows, *, train_rows=8, eval_rows=3):
    return train(
        objective=objective,
        config=config,
        train_path=write_rows("train", tiny.prompt_rows(train_rows, seed=1)),
        eval_path=write_rows("test", tiny.prompt_rows(eval_rows, seed=2)) if eval_rows else None,
        output_dir=tmp_path / "out",
    )


@pytest.fixture
def checker_calls():
    """A registered checker that rewards completions containing 'e', recording what it was called with."""
    calls: list[tuple[str, str]] = []

    @register_checker("tests.has_e")
    def has_e(prompt: str, completion: str) -> float:
        calls.append((prompt, completion))
        return 1.0 if "e" in completion else 0.0

    yield calls
    unregister_checker("tests.has_e")


@pytest.mark.parametrize("objective", ["grpo", "rloo"])
def test_online_objective_trains_on_a_reward_model_and_reports_the_watch(
    tmp_path, write_rows, tiny_gpt2, tiny_reward_model, objective
):
    config = {
        **FAST,
        "model": str(tiny_gpt2),
        "reward_models": [str(tiny_reward_model)],
        "heldout_judge_reward_model": str(tiny_reward_model),
    }
    result = run(objective, config, tmp_path, write_rows)
    assert result.status == "succeeded"
    assert changed_weights(tiny_gpt2, result.model_dir)
    metrics = result.metrics
    assert metrics["train_steps"] == 2
    assert {
        "kl_to_reference",
        "response_length",
        "response_length_base",
        "watch_train_reward_gain",
        "watch_heldout_judge_gain",
        "watch_hacking_suspected",
        "win_rate_vs_base",
    } <= set(metrics)
    # The same model as training reward and held-out judge: the two gains agree, so no flag.
    assert metrics["watch_train_reward_gain"] == pytest.approx(metrics["watch_heldout_judge_gain"])
    assert metrics["watch_hacking_suspected"] == 0.0
    # Every training step reported the reward TRL optimised.
    assert all("reward" in entry for entry in result.history if "loss" in entry)


def test_grpo_with_lora_saves_a_merged_model(tmp_path, write_rows, tiny_gpt2, tiny_reward_model):
    config = {
        **FAST,
        "model": str(tiny_gpt2),
        "reward_models": [str(tiny_reward_model)],
        "lora": True,
        "lora_r": 4,
    }
    result = run("grpo", config, tmp_path, write_rows, eval_rows=0)
    assert result.status == "succeeded"
    changed = changed_weights(tiny_gpt2, result.model_dir)
    assert changed and all("wte" not in name for name in changed)
    assert not (result.model_dir / "adapter_config.json").exists()


def test_a_registered_checker_is_called_with_each_prompt_and_completion(
    tmp_path, write_rows, tiny_gpt2, checker_calls
):
    config = {**FAST, "model": str(tiny_gpt2), "checkers": ["tests.has_e"], "max_steps": 1}
    result = run("grpo", config, tmp_path, write_rows, eval_rows=0)
    assert result.status == "succeeded"
    prompts = {row["prompt"] for row in tiny.prompt_rows(8, seed=1)}
    # One step: batch_size prompts x num_generations completions, each checked once.
    assert len(checker_calls) == FAST["batch_size"] * FAST["num_generations"]
    assert {prompt for prompt, _ in checker_calls} <= prompts


def test_a_raising_checker_fails_the_run_with_its_reason(tmp_path, write_rows, tiny_gpt2):
    @register_checker("tests.broken")
    def broken(prompt: str, completion: str) -> float:
        raise ValueError("no answer line")

    try:
        with pytest.raises(
            RewardFunctionError, match=re.escape("'tests.broken' raised ValueError: no answer line")
        ):
            run(
                "grpo",
                {**FAST, "model": str(tiny_gpt2), "checkers": ["tests.broken"]},
                tmp_path,
                write_rows,
            )
    finally:
        unregister_checker("tests.broken")
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_an_unregistered_checker_is_refused_before_training(tmp_path, write_rows, tiny_gpt2):
    with pytest.raises(ConfigError, match=re.escape("unknown checker 'tests.nowhere'")):
        run(
            "grpo",
            {**FAST, "model": str(tiny_gpt2), "checkers": ["tests.nowhere"]},
            tmp_path,
            write_rows,
        )


def test_an_online_objective_needs_a_reward(tmp_path, write_rows, tiny_gpt2):
    with pytest.raises(ConfigError, match="needs a reward"):
        run("rloo", {**FAST, "model": str(tiny_gpt2)}, tmp_path, write_rows)


def test_vllm_generation_is_refused_where_vllm_cannot_run(tmp_path, write_rows, tiny_gpt2):
    config = {**FAST, "model": str(tiny_gpt2), "regex_rewards": ["e"], "generation_backend": "vllm"}
    with pytest.raises(ConfigError, match="vllm"):
        run("grpo", config, tmp_path, write_rows)


def test_metrics_file_names_the_objective(tmp_path, write_rows, tiny_gpt2):
    config = {**FAST, "model": str(tiny_gpt2), "regex_rewards": ["e"], "max_steps": 1}
    run("rloo", config, tmp_path, write_rows, eval_rows=0)
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written["objective"] == "rloo"


@pytest.mark.parametrize("objective", ["grpo", "rloo"])
def test_online_objective_cancels_and_resumes_at_the_saved_step(
    tmp_path, write_rows, tiny_gpt2, objective
):
    from tests.trainer.test_cancel_and_resume import StopAfter

    config = {
        **FAST,
        "model": str(tiny_gpt2),
        "regex_rewards": ["e"],
        "max_steps": 4,
        "save_steps": 10,
    }
    paths = {
        "train_path": write_rows("train", tiny.prompt_rows(8, seed=1)),
        "output_dir": tmp_path / objective,
    }
    first = StopAfter(2)
    cancelled = train(objective=objective, config=config, callbacks=first.callbacks(), **paths)
    assert cancelled.status == "cancelled"
    assert first.steps == [1, 2]
    assert (tmp_path / objective / "checkpoints" / "checkpoint-2").is_dir()

    second = StopAfter(None)
    resumed = train(
        objective=objective, config=config, callbacks=second.callbacks(), resume=True, **paths
    )
    assert resumed.status == "succeeded"
    assert second.steps == [3, 4]


def test_prompts_are_cut_to_fit_and_chat_prompts_that_do_not_fit_are_dropped(tiny_gpt2):
    from transformers import AutoTokenizer

    from trainer.policy.online import prompt_records

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    rows = [{"prompt": "short"}, {"prompt": "x" * 40}]
    records, cut, dropped = prompt_records(rows, tokenizer, max_prompt_tokens=10)
    # Byte-level tokenizer: one token per character; the long prompt keeps its last 10.
    assert [r["prompt"] for r in records] == ["short", "x" * 10]
    assert json.loads(records[1]["source_prompt"]) == "x" * 40  # the reward sees the original
    assert (cut, dropped) == (1, 0)

    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    records, cut, dropped = prompt_records(rows, tokenizer, max_prompt_tokens=30)
    assert [r["prompt"] for r in records] == [[{"role": "user", "content": "short"}]]
    assert (cut, dropped) == (0, 1)


def test_the_cli_imports_the_operators_checker_modules_before_training(
    tmp_path, write_rows, tiny_gpt2
):
    """What each process of a multi-process run does: the launcher passes the web app's
    ARBITER_REWARD_CHECKER_MODULES as --checker-module, so the checker a run names is registered."""
    import subprocess
    import sys
    from pathlib import Path

    config = {
        **FAST,
        "objective": "grpo",
        "model": str(tiny_gpt2),
        "checkers": ["tests.always_raises"],
        "max_steps": 1,
    }
    config_path = tmp_path / "run.json"
    config_path.write_text(json.dumps(config))
    command = [
        sys.executable, "-m", "trainer", "train", "--config", str(config_path),
        "--data", str(write_rows("train", tiny.prompt_rows(8, seed=1))),
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[3]
    unregistered = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert unregistered.returncode == 2
    assert "unknown checker 'tests.always_raises'" in unregistered.stderr
    registered = subprocess.run(
        [*command, "--checker-module", "tests.apps.training.checkers"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Found and run: it raises, and the run fails with its reason.
    assert registered.returncode == 2
    assert "'tests.always_raises' raised RuntimeError" in registered.stderr
