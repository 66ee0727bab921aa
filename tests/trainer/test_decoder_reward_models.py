"""Reward models on decoder LMs: tiny random Llama and Qwen2 backbones, every reward objective, LoRA."""

from __future__ import annotations

import json

import pytest
import torch

from tests.trainer import tiny
from tests.trainer.helpers import losses
from tests.trainer.tiny_decoders import ARCHITECTURES, build_tiny_decoder
from trainer import train
from trainer.config import RewardPairwiseConfig
from trainer.models import lora_targets
from trainer.reward.batching import encode_pairs, pad_batch
from trainer.reward.model import build_reward_model
from trainer.scoring import load_reward_model

FAST = {
    "learning_rate": 3e-3,
    "batch_size": 8,
    "num_threads": 2,
    "save_steps": 0,
    "max_steps": 12,
    "max_length": 256,
}
ROWS = {
    "reward_pairwise": tiny.pairwise_rows,
    "reward_listwise": tiny.listwise_rows,
    "reward_principle": tiny.principle_rows,
    "reward_reaction": tiny.reaction_rows,
}


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny_decoder(request, tmp_path_factory):
    return build_tiny_decoder(tmp_path_factory.mktemp(request.param), request.param)


@pytest.mark.parametrize("objective", sorted(ROWS))
def test_every_reward_objective_trains_a_decoder_backbone_on_its_last_token(
    objective, tiny_decoder, tmp_path, write_rows
):
    rows = ROWS[objective]
    result = train(
        objective=objective,
        config={**FAST, "model": str(tiny_decoder)},
        train_path=write_rows("train", rows(64, seed=1)),
        eval_path=write_rows("test", rows(20, seed=2)),
        output_dir=tmp_path / "out",
    )
    assert result.status == "succeeded"
    values = losses(result.history)
    assert len(values) == 12 and all(torch.isfinite(torch.tensor(values)))
    assert min(values[-4:]) < values[0]
    metadata = json.loads((result.model_dir / "reward_model.json").read_text())
    assert metadata["pooling"] == "last"
    assert result.metrics, "held-out metrics were computed"


def test_a_decoder_input_ends_with_eos_even_when_cut_and_padding_does_not_move_its_score(
    tiny_decoder,
):
    model, tokenizer = build_reward_model(
        RewardPairwiseConfig(model=str(tiny_decoder), max_length=24), num_outputs=1
    )
    model.eval()
    long_reply = " ".join(["great helpful clear"] * 30)
    encoded = encode_pairs(
        tokenizer, ["user: bread?", "user: dogs?"], [" great reply", long_reply], max_length=24
    )
    assert all(e.input_ids[-1] == tokenizer.eos_token_id for e in encoded)
    assert len(encoded[1]) == 24
    # The pad id is the EOS id here (no pad token): the last real token must come from the mask.
    assert tokenizer.pad_token_id is not None
    with torch.no_grad():
        alone = model(**pad_batch(encoded[:1], pad_token_id=tokenizer.pad_token_id, device="cpu"))
        padded = model(**pad_batch(encoded, pad_token_id=tokenizer.pad_token_id, device="cpu"))
    torch.testing.assert_close(padded[:1], alone, rtol=1e-4, atol=1e-5)


def test_a_saved_decoder_reward_model_scores_as_it_trained(tiny_decoder, tmp_path, write_rows):
    result = train(
        objective="reward_pairwise",
        config={**FAST, "model": str(tiny_decoder), "max_steps": 2},
        train_path=write_rows("train", tiny.pairwise_rows(32, seed=1)),
        output_dir=tmp_path / "out",
    )
    scorer = load_reward_model(result.model_dir)
    first = scorer.score(["user: bread?"], [" great helpful reply"])
    again = load_reward_model(result.model_dir).score(["user: bread?"], [" great helpful reply"])
    assert first == again
    assert scorer.tokenizer("great")["input_ids"][-1] == scorer.tokenizer.eos_token_id


def test_lora_on_a_decoder_adapts_the_architectures_projections_only(tiny_decoder):
    model, _ = build_reward_model(
        RewardPairwiseConfig(model=str(tiny_decoder), lora=True, lora_r=4), num_outputs=1
    )
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    adapted = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trainable if "lora_" in name}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all("lora_" in name or name.startswith("head.") for name in trainable)


def test_lora_auto_targets_follow_the_model_family():
    assert lora_targets("auto", model_type="gpt2") == ["c_attn", "c_proj", "c_fc"]
    assert lora_targets("auto", model_type="some-new-family") == "all-linear"
    assert lora_targets(["q_proj"], model_type="llama") == ["q_proj"]
