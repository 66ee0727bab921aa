"""The combined reward of an online run, and the reward-hacking watch, on values worked by hand."""

from __future__ import annotations

import json
import math

import pytest

from trainer.config import GrpoConfig, RlooConfig
from trainer.errors import ConfigError
from trainer.policy.evaluate import reward_hacking_suspected, reward_hacking_watch
from trainer.policy.rewards import (
    CombinedReward,
    RewardFunctionError,
    build_reward,
    combine,
    register_checker,
    registered_checkers,
    unregister_checker,
)
from trainer.scoring import load_reward_model


@pytest.fixture
def tenth_of_length():
    @register_checker("tests.tenth_of_length")
    def tenth_of_length(prompt: str, completion: str) -> float:
        return len(completion) / 10

    yield "tests.tenth_of_length"
    unregister_checker("tests.tenth_of_length")


def test_combine_is_the_weighted_sum_of_the_sources():
    # r_0 = 2*1 + (-0.5)*0.5 = 1.75; r_1 = 2*2 + (-0.5)*(-1) = 4.5
    assert combine([[1.0, 2.0], [0.5, -1.0]], [2.0, -0.5]) == [1.75, 4.5]


def test_regex_and_checker_rewards_are_weighted_as_configured(tenth_of_length):
    config = GrpoConfig(
        model="unused",
        regex_rewards=["^ok"],
        regex_weights=[0.5],
        checkers=[tenth_of_length],
        checker_weights=[2.0],
    )
    reward = build_reward(config)
    combined, per_source = reward.scores(["p", "p", "p"], ["ok", "no", "okay"])
    assert per_source == {
        "regex:^ok": [1.0, 0.0, 1.0],
        "checker:tests.tenth_of_length": [0.2, 0.2, 0.4],
    }
    # 0.5*1 + 2*0.2, 0.5*0 + 2*0.2, 0.5*1 + 2*0.4
    assert combined == pytest.approx([0.9, 0.4, 1.3])


def test_reward_models_are_weighted_as_configured(tiny_reward_model):
    prompts = ["the bread", "the dogs"]
    completions = [" the answer is great", " rude and wrong"]
    alone = load_reward_model(tiny_reward_model).score(prompts, completions)
    config = RlooConfig(
        model="unused",
        reward_models=[str(tiny_reward_model), str(tiny_reward_model)],
        reward_weights=[1.0, -3.0],
    )
    combined, _ = build_reward(config).scores(prompts, completions)
    assert combined == pytest.approx([-2.0 * score for score in alone], rel=1e-5)


def test_trl_call_scores_the_original_prompts_and_logs_each_source(tenth_of_length):
    seen = []

    @register_checker("tests.echo_prompt")
    def echo_prompt(prompt: str, completion: str) -> float:
        seen.append(prompt)
        return 1.0

    try:
        reward = build_reward(
            GrpoConfig(model="unused", checkers=["tests.echo_prompt", tenth_of_length])
        )
        logged = {}
        scores = reward(
            prompts=["<rendered>", "<rendered>"],
            completions=["abcde", [{"role": "assistant", "content": "ab"}]],
            source_prompt=[json.dumps("original one"), json.dumps("original two")],
            log_metric=logged.__setitem__,
        )
    finally:
        unregister_checker("tests.echo_prompt")
    assert seen == ["original one", "original two"]
    assert scores == pytest.approx([1.5, 1.2])
    assert logged == pytest.approx({"reward_source_0": 1.0, "reward_source_1": 0.35})


@pytest.mark.parametrize("returned", [None, math.nan, "1.0", True])
def test_a_checker_returning_no_finite_number_is_refused(returned):
    @register_checker("tests.returns")
    def returns(prompt: str, completion: str):
        return returned

    try:
        reward = build_reward(GrpoConfig(model="unused", checkers=["tests.returns"]))
        with pytest.raises(RewardFunctionError, match="must return a finite number"):
            reward.scores(["p"], ["c"])
    finally:
        unregister_checker("tests.returns")


def test_checkers_are_registered_by_name_only_once(tenth_of_length):
    assert tenth_of_length in registered_checkers()
    with pytest.raises(ValueError, match="already registered"):
        register_checker(tenth_of_length)(lambda prompt, completion: 0.0)
    with pytest.raises(ValueError, match="dotted identifiers"):
        register_checker("os.system('x')")


def test_config_refuses_a_bad_regex_and_mismatched_weights():
    with pytest.raises(ConfigError, match="does not compile"):
        GrpoConfig(model="m", regex_rewards=["(unclosed"])
    with pytest.raises(ConfigError, match="one weight per source"):
        GrpoConfig(model="m", regex_rewards=["a", "b"], regex_weights=[1.0])
    with pytest.raises(ConfigError, match="num_generations"):
        RlooConfig(model="m", regex_rewards=["a"], num_generations=1)


def test_a_combined_reward_needs_a_source():
    with pytest.raises(ConfigError):
        CombinedReward([])


def test_hacking_flag_trips_when_the_training_reward_rises_and_the_judge_falls():
    # Constructed: the policy's samples score higher than the base's under the training reward model
    # (+0.75 on average) and lower under the held-out judge (-0.5 on average).
    watch = reward_hacking_watch(
        train_policy=[1.0, 2.0],
        train_base=[0.5, 1.0],
        judge_policy=[0.0, 0.5],
        judge_base=[0.5, 1.0],
    )
    assert watch["watch_train_reward_gain"] == pytest.approx(0.75)
    assert watch["watch_heldout_judge_gain"] == pytest.approx(-0.5)
    assert watch["watch_hacking_suspected"] == 1.0


def test_hacking_flag_stays_down_when_both_rewards_rise_or_both_fall():
    assert not reward_hacking_suspected(train_reward_gain=0.3, heldout_judge_gain=0.1)
    assert not reward_hacking_suspected(train_reward_gain=-0.3, heldout_judge_gain=-0.1)
    assert not reward_hacking_suspected(train_reward_gain=0.0, heldout_judge_gain=-0.1)


def test_without_a_heldout_judge_the_watch_reports_only_the_training_gain():
    watch = reward_hacking_watch(
        train_policy=[1.0], train_base=[0.0], judge_policy=None, judge_base=None
    )
    assert watch == {
        "watch_train_reward": 1.0,
        "watch_train_reward_base": 0.0,
        "watch_train_reward_gain": 1.0,
    }
