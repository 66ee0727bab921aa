"""The unpadded first-token pass (trainer/reward/unpadded.py) computes what the stock forward computes."""

from __future__ import annotations

import torch

from tests.trainer import tiny
from trainer import TrainingCallbacks, train
from trainer.config import RewardPairwiseConfig
from trainer.reward.batching import encode_pairs, pack_batch, pad_batch
from trainer.reward.model import build_reward_model, use_unpadded_if_exact

CPU = torch.device("cpu")


def _model_and_sequences(tiny_bert, pooling: str = "pooler"):
    model, tokenizer = build_reward_model(
        RewardPairwiseConfig(model=str(tiny_bert), pooling=pooling), num_outputs=1
    )
    sequences = encode_pairs(
        tokenizer,
        ["the bread", "the dogs and the bikes", "the money", "a long prompt about the bikes"],
        [" great", " the answer is clear and kind and so helpful", " rude", " the chain"],
        max_length=64,
    )
    return model, tokenizer.pad_token_id, sequences


def _scores_and_gradients(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    model.zero_grad()
    scores = model(packed=batch) if not isinstance(batch, dict) else model(**batch)
    # Any loss that reaches every score: the gradients must then agree parameter by parameter.
    (scores * torch.arange(1.0, scores.shape[0] + 1)[:, None]).sum().backward()
    gradients = torch.cat(
        [
            p.grad.flatten() if p.grad is not None else torch.zeros(p.numel())
            for p in model.parameters()
        ]
    )
    return scores.detach(), gradients


def test_the_unpadded_pass_gives_the_padded_scores_and_gradients(tiny_bert):
    model, pad_id, sequences = _model_and_sequences(tiny_bert)
    model.train()
    padded_scores, padded_gradients = _scores_and_gradients(
        model, pad_batch(sequences, pad_token_id=pad_id, device=CPU)
    )

    assert use_unpadded_if_exact(model, sequences, pad_token_id=pad_id)
    packed = pack_batch(sequences, pad_token_id=pad_id, device=CPU)
    # Some rows hold padding, so there is padding to skip.
    assert packed.inputs["input_ids"].numel() > sum(len(s) for s in sequences)
    fast_scores, fast_gradients = _scores_and_gradients(model, packed)

    assert torch.allclose(fast_scores, padded_scores, atol=1e-5)
    assert torch.allclose(fast_gradients, padded_gradients, atol=1e-5)
    assert padded_gradients.abs().sum() > 0


def test_the_unpadded_pass_stays_off_when_the_head_reads_every_token(tiny_bert):
    model, pad_id, sequences = _model_and_sequences(tiny_bert, pooling="mean")

    assert not use_unpadded_if_exact(model, sequences, pad_token_id=pad_id)
    assert model.unpadded is False


def test_a_bert_reward_run_trains_through_the_unpadded_pass(tmp_path, tiny_bert):
    lines: list[str] = []
    result = train(
        objective="reward_pairwise",
        config={
            "model": str(tiny_bert),
            "learning_rate": 2e-3,
            "batch_size": 8,
            "num_epochs": 3,
            "save_steps": 0,
        },
        train_path=tiny.write_jsonl(tiny.pairwise_rows(64, seed=1), tmp_path / "train.jsonl"),
        eval_path=tiny.write_jsonl(tiny.pairwise_rows(64, seed=2), tmp_path / "test.jsonl"),
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(on_log=lines.append),
    )

    assert any(line.startswith("unpadded pass") for line in lines)
    losses = [record["loss"] for record in result.history if "loss" in record]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert result.metrics["pairwise_accuracy"] > 0.6
