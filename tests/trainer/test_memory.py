"""The memory preflight: the estimate worked by hand, a run that cannot fit is refused with remedies."""

from __future__ import annotations

import pytest

from tests.trainer import tiny
from trainer import TrainingCallbacks, train
from trainer.config import RewardPairwiseConfig
from trainer.device import DeviceChoice
from trainer.memory import (
    GIB,
    InsufficientMemoryError,
    check_training_fits,
    estimate_training_memory,
    lora_parameters,
    out_of_memory_error,
)
from trainer.reward.model import build_reward_model

CPU = DeviceChoice(
    device=__import__("torch").device("cpu"), bf16=False, gradient_checkpointing=False
)


def estimate(**changes):
    """The estimate for a toy model: 1000 parameters (100 trainable), 2 layers 8 wide, 10 tokens,
    fp32, no checkpointing; `changes` override any of them."""
    arguments = {
        "total_parameters": 1000,
        "trainable_parameters": 100,
        "num_layers": 2,
        "hidden_size": 8,
        "tokens": 10,
        "bf16": False,
        "gradient_checkpointing": False,
    }
    return estimate_training_memory(**{**arguments, **changes})


def test_estimate_adds_weights_gradients_adam_and_activations_as_worked_by_hand():
    # weights 1000x4, gradients 100x4, AdamW 100x8, activations 2 layers x (10 tokens x 8 wide x 34 x 4/2).
    full = estimate()
    assert (full.weights, full.gradients, full.optimizer, full.activations) == (
        4000,
        400,
        800,
        10880,
    )
    assert full.total == int((4000 + 400 + 800 + 10880) * 1.2)
    # Checkpointing keeps each layer's input (2 x 10 x 8 x 4) plus one layer's activations (5440).
    checkpointed = estimate(gradient_checkpointing=True)
    assert checkpointed.activations == 640 + 5440
    # bf16 halves activations; a language-model head adds logits and their gradient.
    lm = estimate(bf16=True, vocab_size=50)
    assert lm.activations == 5440 and lm.logits == 10 * 50 * 8


def test_a_run_that_cannot_fit_is_refused_with_the_remedies(tiny_bert):
    model, _ = build_reward_model(RewardPairwiseConfig(model=str(tiny_bert)), num_outputs=1)
    with pytest.raises(InsufficientMemoryError) as refused:
        check_training_fits(model, tokens=4096, device=CPU, lora=False, available=GIB // 1024)
    message = str(refused.value)
    assert "refusing to start" in message
    assert "LoRA" in message and "batch_size" in message and "max_length" in message
    # Split over four processes, each holds a quarter of the activations.
    one = check_training_fits(model, tokens=4096, device=CPU, lora=False, available=GIB)
    four = check_training_fits(
        model, tokens=4096, device=CPU, lora=False, processes=4, available=GIB
    )
    assert four.activations * 4 == one.activations


def test_a_training_run_reports_its_preflight_and_trains(tmp_path, write_rows, tiny_bert):
    lines = []
    result = train(
        objective="reward_pairwise",
        config={"model": str(tiny_bert), "max_steps": 1, "save_steps": 0, "batch_size": 4},
        train_path=write_rows("train", tiny.pairwise_rows(16, seed=1)),
        output_dir=tmp_path / "out",
        callbacks=TrainingCallbacks(on_log=lines.append),
    )
    assert result.status == "succeeded"
    assert any(line.startswith("memory preflight: about ") for line in lines)


def test_an_out_of_memory_error_becomes_a_reason_the_user_can_act_on():
    error = out_of_memory_error(
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore"), step=7
    )
    assert isinstance(error, InsufficientMemoryError)
    assert str(error).startswith(
        "out of memory during step 7: CUDA out of memory. Tried to allocate"
    )


def test_a_frozen_reference_adds_its_weights_to_the_estimate():
    alone = estimate(trainable_parameters=1000)
    with_reference = estimate(trainable_parameters=1000, frozen_parameters=1000)
    assert with_reference.frozen == 4000
    assert with_reference.total == int((alone.total / 1.2 + 4000) * 1.2)
    assert "frozen" in with_reference.describe() and "frozen" not in alone.describe()


def test_lora_parameters_are_counted_as_peft_adds_them(tiny_gpt2):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trainer.models import lora_targets

    for requested in ("auto", "all-linear", ["c_attn"]):
        model = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
        targets = lora_targets(requested, model_type="gpt2")
        counted = lora_parameters(model, rank=4, targets=targets)
        wrapped = get_peft_model(model, LoraConfig(r=4, target_modules=targets))
        added = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
        assert counted == added, requested


def preflight_lines(objective, config, rows, tmp_path, write_rows):
    lines = []
    result = train(
        objective=objective,
        config={"max_steps": 1, "save_steps": 0, "batch_size": 2, "num_threads": 2, **config},
        train_path=write_rows("train", rows),
        output_dir=tmp_path / objective,
        callbacks=TrainingCallbacks(on_log=lines.append),
    )
    assert result.status == "succeeded"
    return [line for line in lines if line.startswith("memory preflight: about ")]


@pytest.mark.parametrize(
    ("objective", "config", "rows", "holds_a_frozen_copy"),
    [
        # The full-weight run holds a frozen reference copy; under LoRA the reference is the base itself.
        ("dpo", {}, tiny.pairwise_rows(4, seed=1), True),
        ("kto", {"lora": True}, tiny.unpaired_rows(4, seed=1), False),
        ("lipo", {}, tiny.listwise_rows(4, seed=1), None),
        # RAFT keeps its reward model loaded alongside the policy.
        (
            "raft",
            {"reward_model": None, "num_samples": 2, "max_new_tokens": 4},
            tiny.prompt_rows(4, seed=1),
            True,
        ),
    ],
    ids=["dpo", "kto-lora", "lipo", "raft"],
)
def test_policy_runs_check_memory_before_training_counting_what_they_hold_frozen(
    objective, config, rows, holds_a_frozen_copy, tmp_path, write_rows, tiny_gpt2, request
):
    if "reward_model" in config:  # the ranker is trained only for the run that needs it
        config = {**config, "reward_model": str(request.getfixturevalue("tiny_reward_model"))}
    lines = preflight_lines(
        objective, {"model": str(tiny_gpt2), **config}, rows, tmp_path, write_rows
    )
    assert len(lines) == 1
    if holds_a_frozen_copy is not None:
        assert ("frozen" in lines[0]) == holds_a_frozen_copy


def test_a_trl_run_that_cannot_fit_is_refused_before_training(tiny_gpt2):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    full = sum(p.numel() for p in model.parameters())
    with pytest.raises(InsufficientMemoryError, match="refusing to start"):
        check_training_fits(
            model,
            tokens=64,
            device=CPU,
            lora=False,
            frozen_parameters=full,
            available=full * 4 * 2,
        )
