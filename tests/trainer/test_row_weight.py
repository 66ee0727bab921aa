"""The Bradley-Terry reward objective weights each pair by its row's `weight` column."""

from trainer.config import RewardPairwiseConfig
from trainer.reward.pairwise import PairwiseTask


def test_a_pairs_row_weight_becomes_its_example_weight(tmp_path):
    from transformers import PreTrainedTokenizerFast

    from tests.trainer.tiny import build_tiny_bert

    tokenizer = PreTrainedTokenizerFast.from_pretrained(build_tiny_bert(tmp_path / "bert"))
    rows = [
        {"prompt": "bread", "chosen": "great answer", "rejected": "rude answer"},
        {"prompt": "bikes", "chosen": "clear", "rejected": "vague", "weight": 0.25},
    ]

    examples = PairwiseTask(RewardPairwiseConfig(), tokenizer).encode(rows)

    assert [e.target["weight"] for e in examples] == [1.0, 0.25]
