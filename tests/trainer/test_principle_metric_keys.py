"""Per-principle metrics are named by a short stable key, never by the (untrusted, unbounded) text."""

import torch

from trainer.config import RewardPrincipleConfig
from trainer.reward.principle import PrincipleTask, principle_metric_key
from trainer.reward.tasks import Example

HOSTILE = "</script><img src=x onerror=alert(1)>" + " Is the answer polite?" * 12


def example(principle: str, verdict: bool, **extra) -> Example:
    row = {"principle": principle, "verdict": verdict, **extra}
    return Example(
        sequences=[],
        target={
            "verdict": verdict,
            "principle": principle,
            "principle_key": principle_metric_key(row),
        },
    )


def test_a_row_with_a_principle_id_is_keyed_by_the_id():
    assert principle_metric_key({"principle": HOSTILE, "principle_id": 42}) == "principle-42"


def test_a_row_without_an_id_is_keyed_by_a_short_digest_of_its_text():
    key = principle_metric_key({"principle": HOSTILE})
    assert key.startswith("principle-text-")
    assert len(key) == len("principle-text-") + 12
    assert key == principle_metric_key({"principle": HOSTILE})  # stable across runs
    assert key != principle_metric_key({"principle": HOSTILE + "!"})


def test_held_out_metric_names_stay_short_whatever_the_principle_text():
    task = PrincipleTask(RewardPrincipleConfig(model="unused"), tokenizer=None)
    examples = [
        example(HOSTILE, True, principle_id=3),
        example(HOSTILE, False, principle_id=3),
        example("is brief", True),
        example("is brief", False),
    ]
    scores = [torch.tensor([[value]]) for value in (2.0, -1.0, 0.5, 1.0)]

    metrics = task.evaluate(scores, examples)

    brief = principle_metric_key({"principle": "is brief"})
    assert metrics["auroc/principle-3"] == 1.0
    assert metrics[f"auroc/{brief}"] == 0.0
    assert all(len(name) <= 40 and "<" not in name for name in metrics)


def test_the_saved_metadata_says_which_text_each_key_names():
    task = PrincipleTask(RewardPrincipleConfig(model="unused"), tokenizer=None)
    rows = [{"principle": HOSTILE, "principle_id": 3}, {"principle": "is brief"}]

    keys = task.metadata(rows)["principle_metric_keys"]

    assert keys == {"principle-3": HOSTILE, principle_metric_key(rows[1]): "is brief"}
