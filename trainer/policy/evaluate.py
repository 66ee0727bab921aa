"""Held-out evaluation of a policy: sampling, KL to the reference, win rate under a judge, implicit rewards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from trainer.config import PolicyConfig
from trainer.data import Prompt
from trainer.device import DeviceChoice
from trainer.metrics import mean, mean_token_kl
from trainer.policy.common import (
    CompletionIds,
    completion_logps,
    encode_completion,
    pad_completions,
    render_prompt,
    token_logps,
)


@dataclass
class Samples:
    """Completions sampled for prompts: token ids (ending at EOS when one was produced) and decoded text."""

    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]
    texts: list[str]


def prompt_token_ids(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt]
) -> list[list[int]]:
    """Tokenise rendered prompts exactly as `encode_completion` does, so sampling and scoring agree."""
    special = not getattr(tokenizer, "chat_template", None)
    return [
        tokenizer(render_prompt(p, tokenizer), add_special_tokens=special)["input_ids"]
        or [tokenizer.eos_token_id]
        for p in prompts
    ]


@torch.no_grad()
def sample_completions(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    *,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    device: DeviceChoice,
    max_prompt_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_samples: int = 1,
) -> list[Samples]:
    """Sample `num_samples` completions per prompt; returns one Samples per draw, each aligned with `prompts`.

    Seeded, so the same model, prompts and seed give the same completions. Prompts are left-padded by hand
    (the ids match `prompt_token_ids`) and keep their last `max_prompt_tokens` tokens.
    """
    was_training = model.training
    model.eval()
    ids = [p[-max_prompt_tokens:] for p in prompt_token_ids(tokenizer, prompts)]
    torch.manual_seed(seed)
    draws = []
    for _ in range(num_samples):
        completions: list[list[int]] = []
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            width = max(len(p) for p in chunk)
            input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
            attention_mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, prompt in enumerate(chunk):
                input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
                attention_mask[row, width - len(prompt) :] = 1
            with device.autocast():
                output = model.generate(
                    input_ids=input_ids.to(device.device),
                    attention_mask=attention_mask.to(device.device),
                    do_sample=True,
                    temperature=temperature,
                    top_p=top_p,
                    top_k=0,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            for row in output[:, width:].tolist():
                completions.append(_until_eos(row, tokenizer.eos_token_id))
        texts = [tokenizer.decode(c, skip_special_tokens=True) for c in completions]
        draws.append(Samples(prompt_ids=ids, completion_ids=completions, texts=texts))
    model.train(was_training)
    return draws


def _until_eos(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos) + 1] if eos in ids else ids


@torch.no_grad()
def kl_to_reference(
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    samples: Samples,
    *,
    pad_token_id: int,
    batch_size: int,
    device: DeviceChoice,
) -> float:
    """Mean per-token KL(π ‖ π_ref) on completions sampled from π (see `trainer.metrics.mean_token_kl`)."""
    items = [
        CompletionIds(input_ids=p + c, completion_start=len(p))
        for p, c in zip(samples.prompt_ids, samples.completion_ids, strict=True)
        if c
    ]
    policy_parts, reference_parts, masks = [], [], []
    for start in range(0, len(items), batch_size):
        batch = pad_completions(
            items[start : start + batch_size], pad_token_id=pad_token_id, device=device.device
        )
        with device.autocast():
            policy_parts.append(
                token_logps(policy, batch["input_ids"], batch["attention_mask"]).flatten()
            )
            reference_parts.append(
                token_logps(reference, batch["input_ids"], batch["attention_mask"]).flatten()
            )
        masks.append(batch["completion_mask"].flatten())
    if not items:
        return 0.0
    return mean_token_kl(torch.cat(policy_parts), torch.cat(reference_parts), torch.cat(masks))


@torch.no_grad()
def implicit_rewards(
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[tuple[Prompt, str]],
    *,
    config: PolicyConfig,
    device: DeviceChoice,
) -> list[float]:
    """β · (log π(y|x) - log π_ref(y|x)) for each (prompt, completion): the reward DPO-style training implies."""
    encoded = [
        encode_completion(
            tokenizer, render_prompt(prompt, tokenizer), completion, max_length=config.max_length
        )
        for prompt, completion in items
    ]
    rewards: list[float] = []
    for start in range(0, len(encoded), config.eval_batch_size):
        batch = pad_completions(
            encoded[start : start + config.eval_batch_size],
            pad_token_id=tokenizer.pad_token_id,
            device=device.device,
        )
        with device.autocast():
            difference = completion_logps(policy, batch) - completion_logps(reference, batch)
        rewards.extend((config.beta * difference.float()).tolist())
    return rewards


TrainingReward = Callable[[Sequence[Prompt], Sequence[str]], list[float]]
"""(prompts, completions) -> one score each: the reward a policy was trained to raise."""


def reward_hacking_suspected(*, train_reward_gain: float, heldout_judge_gain: float) -> bool:
    """The reward-hacking flag: the training reward rose on held-out prompts while a held-out judge's fell."""
    return train_reward_gain > 0 and heldout_judge_gain < 0


def reward_hacking_watch(
    *,
    train_policy: Sequence[float],
    train_base: Sequence[float],
    judge_policy: Sequence[float] | None,
    judge_base: Sequence[float] | None,
) -> dict[str, float]:
    """The watch's reward figures from scores of the trained policy's and the base's samples on the same prompts.

    watch_train_reward_gain: mean training reward of the policy's samples minus the base's;
    watch_heldout_judge_gain: the same under the held-out judge (a reward model the policy never trained against);
    watch_hacking_suspected: 1.0 when the first is positive and the second negative, else 0.0 (only with a judge).
    """
    metrics = {
        "watch_train_reward": mean(train_policy),
        "watch_train_reward_base": mean(train_base),
        "watch_train_reward_gain": mean(train_policy) - mean(train_base),
    }
    if judge_policy is not None and judge_base is not None:
        gain = mean(judge_policy) - mean(judge_base)
        metrics["watch_heldout_judge_reward"] = mean(judge_policy)
        metrics["watch_heldout_judge_reward_base"] = mean(judge_base)
        metrics["watch_heldout_judge_gain"] = gain
        metrics["watch_hacking_suspected"] = float(
            reward_hacking_suspected(
                train_reward_gain=metrics["watch_train_reward_gain"], heldout_judge_gain=gain
            )
        )
    return metrics


def generation_metrics(
    *,
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    config: PolicyConfig,
    device: DeviceChoice,
    judge_dir: str | None,
    training_reward: TrainingReward | None = None,
) -> dict[str, float]:
    """KL to the reference and mean response length on the policy's samples; with a judge reward model, the win
    rate over the base; and the reward-hacking watch (`reward_hacking_watch`) when a training reward is known:
    `training_reward` (RAFT's ranker, an online run's combined reward) or else the judge, which for the offline
    objectives is the reward model of the labels they trained on. The held-out judge is
    `config.heldout_judge_reward_model`.

    Both policies sample once per prompt with the same seed; a win counts 1, a tie 0.5.
    """
    from trainer.scoring import load_reward_model

    unique = _unique(prompts)[: config.eval_max_prompts]
    if not unique:
        return {}
    options = {
        "max_new_tokens": config.eval_max_new_tokens,
        "batch_size": config.eval_batch_size,
        "seed": config.seed,
        "device": device,
        "max_prompt_tokens": max(1, config.max_length - config.eval_max_new_tokens),
    }
    (trained,) = sample_completions(policy, tokenizer, unique, **options)
    metrics = {
        "kl_to_reference": kl_to_reference(
            policy,
            reference,
            trained,
            pad_token_id=tokenizer.pad_token_id,
            batch_size=config.eval_batch_size,
            device=device,
        ),
        "eval_prompts": float(len(unique)),
        "response_length": mean([float(len(c)) for c in trained.completion_ids]),
    }
    heldout_dir = config.heldout_judge_reward_model
    if not (judge_dir or training_reward or heldout_dir):
        return metrics
    (base,) = sample_completions(reference, tokenizer, unique, **options)
    metrics["response_length_base"] = mean([float(len(c)) for c in base.completion_ids])
    train_scores = None
    if judge_dir:
        judge = load_reward_model(judge_dir, device=str(device.device))
        trained_scores = judge.score(unique, trained.texts)
        base_scores = judge.score(unique, base.texts)
        wins = [
            1.0 if t > b else 0.5 if t == b else 0.0
            for t, b in zip(trained_scores, base_scores, strict=True)
        ]
        metrics["win_rate_vs_base"] = mean(wins)
        metrics["judge_reward"] = mean(trained_scores)
        metrics["judge_reward_base"] = mean(base_scores)
        train_scores = (trained_scores, base_scores)
    if training_reward is not None:
        train_scores = (training_reward(unique, trained.texts), training_reward(unique, base.texts))
    if train_scores is not None:
        heldout = None
        if heldout_dir:
            heldout_judge = load_reward_model(heldout_dir, device=str(device.device))
            heldout = (
                heldout_judge.score(unique, trained.texts),
                heldout_judge.score(unique, base.texts),
            )
        metrics.update(
            reward_hacking_watch(
                train_policy=train_scores[0],
                train_base=train_scores[1],
                judge_policy=heldout[0] if heldout else None,
                judge_base=heldout[1] if heldout else None,
            )
        )
    return metrics


def _unique(prompts: Sequence[Prompt]) -> list[Prompt]:
    seen: set[str] = set()
    unique = []
    for prompt in prompts:
        key = repr(prompt)
        if key not in seen:
            seen.add(key)
            unique.append(prompt)
    return unique
