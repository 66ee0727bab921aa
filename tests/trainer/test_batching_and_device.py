"""Length-grouped batching, dynamic padding and the device choice."""

from __future__ import annotations

import torch

from trainer.device import choose_device
from trainer.reward.batching import Encoded, length_grouped_batches, pad_batch, shuffled_batches


def test_length_grouped_batches_cover_every_example_once_and_repeat_per_epoch():
    lengths = [(i * 37) % 101 + 1 for i in range(250)]
    batches = length_grouped_batches(lengths, 8, seed=3, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(250))
    assert batches == length_grouped_batches(lengths, 8, seed=3, epoch=0)
    assert batches != length_grouped_batches(lengths, 8, seed=3, epoch=1)
    # The longest example is in the first batch, so a memory limit shows on the first step.
    assert max(lengths) in [lengths[i] for i in batches[0]]


def test_length_grouping_pads_far_less_than_random_batches():
    lengths = [(i * 37) % 200 + 1 for i in range(400)]

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    grouped = padded(length_grouped_batches(lengths, 16, seed=0, epoch=0))
    random_batches = padded(shuffled_batches(len(lengths), 16, seed=0, epoch=0))
    assert grouped < 0.7 * random_batches


def test_pad_batch_pads_to_the_batch_longest_only():
    batch = pad_batch(
        [Encoded([1, 2, 3], [0, 0, 1], False), Encoded([4], [0], False)],
        pad_token_id=0,
        device=torch.device("cpu"),
    )
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 1], [0, 0, 0]]


def test_cpu_runs_fp32_without_gradient_checkpointing():
    if torch.cuda.is_available():
        return  # this test is about CPU-only machines
    choice = choose_device("auto", gradient_checkpointing=True)
    assert choice.device.type == "cpu"
    assert not choice.bf16
    assert not choice.gradient_checkpointing


def test_num_threads_is_applied():
    before = torch.get_num_threads()
    try:
        choose_device("cpu", num_threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_packed_rows_score_exactly_like_padded_rows(tiny_bert):
    from trainer.config import RewardPairwiseConfig
    from trainer.reward.batching import encode_pairs, pack_batch
    from trainer.reward.model import build_reward_model, packing_matches_padding

    model, tokenizer = build_reward_model(RewardPairwiseConfig(model=str(tiny_bert)), num_outputs=1)
    sequences = encode_pairs(
        tokenizer,
        ["the bread", "the dogs and the bikes", "the money"],
        [" great", " the answer is clear and kind and so helpful", " rude"],
        max_length=64,
    )
    packed = pack_batch(sequences, pad_token_id=tokenizer.pad_token_id, device=torch.device("cpu"))
    # The longest sequence fills a row; the two short ones share the second.
    assert packed.inputs["input_ids"].shape[0] == 2
    assert packing_matches_padding(model, sequences, pad_token_id=tokenizer.pad_token_id)


def test_a_causal_backbone_is_trained_padded_not_packed(tmp_path, tiny_gpt2):
    from tests.trainer import tiny
    from trainer import TrainingCallbacks, train

    lines = []
    result = train(
        objective="reward_pairwise",
        config={
            "model": str(tiny_gpt2),
            "pooling": "last",
            "max_steps": 2,
            "batch_size": 4,
            "save_steps": 0,
        },
        train_path=tiny.write_jsonl(tiny.pairwise_rows(8, seed=1), tmp_path / "train.jsonl"),
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(on_log=lines.append),
    )
    assert result.status == "succeeded"
    assert any("packing is off" in line for line in lines)
