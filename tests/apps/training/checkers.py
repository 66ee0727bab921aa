"""Verifiable reward checkers as an operator registers them: a module named in
ARBITER_REWARD_CHECKER_MODULES, imported by the web app and the workers at start-up."""

from trainer.policy.rewards import register_checker


@register_checker("tests.mentions_good_word")
def mentions_good_word(prompt: str, completion: str) -> float:
    """1 when the completion holds one of the tiny data's 'good' words, else 0."""
    from tests.trainer.tiny import GOOD

    return 1.0 if any(word in completion for word in GOOD) else 0.0


@register_checker("tests.always_raises")
def always_raises(prompt: str, completion: str) -> float:
    raise RuntimeError("the answer key is missing")
