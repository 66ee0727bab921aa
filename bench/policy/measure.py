"""Hidden-truth measurement of a policy on held-out prompts, with its KL to the base and its length.

success: share of sampled completions (temperature 1, a fixed seed, `samples` per prompt) that the
    hidden checker accepts: what the policy does when it is used, not just its single best guess.
greedy_success: share of prompts whose greedy completion is right.
kl_to_base: Monte-Carlo KL(policy ‖ base) per completion, in nats: the mean over the policy's own
    samples of log π(y|x) − log π_base(y|x), both summed over the completion's tokens (EOS included).
mean_length: completion tokens before EOS, averaged over the samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bench.policy import formats
from trainer.device import choose_device
from trainer.policy.common import CompletionIds, completion_logps, pad_completions
from trainer.policy.evaluate import prompt_token_ids, sample_completions

MAX_NEW_TOKENS = 8


@dataclass
class Measurement:
    success: float
    greedy_success: float
    kl_to_base: float
    mean_length: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def load_policy(directory: Path | str):
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True).eval()
    return model, tokenizer


@torch.no_grad()
def _logps(model, tokenizer, prompt_ids, completion_ids) -> torch.Tensor:
    items = [
        CompletionIds(input_ids=p + c, completion_start=len(p))
        for p, c in zip(prompt_ids, completion_ids, strict=True)
    ]
    parts = []
    for start in range(0, len(items), 256):
        batch = pad_completions(
            items[start : start + 256],
            pad_token_id=tokenizer.pad_token_id,
            device=torch.device("cpu"),
        )
        parts.append(completion_logps(model, batch))
    return torch.cat(parts)


@torch.no_grad()
def measure(
    policy_dir: Path | str,
    base_dir: Path | str,
    problems: list,
    *,
    task=formats,
    samples: int = 8,
    seed: int = 1234,
) -> Measurement:
    device = choose_device("cpu", num_threads=None, gradient_checkpointing=False)
    policy, tokenizer = load_policy(policy_dir)
    base, _ = load_policy(base_dir)
    prompts = [problem.prompt for problem in problems]
    draws = sample_completions(
        policy,
        tokenizer,
        prompts,
        max_new_tokens=MAX_NEW_TOKENS,
        batch_size=256,
        seed=seed,
        device=device,
        max_prompt_tokens=24,
        num_samples=samples,
    )
    right, lengths, kls = [], [], []
    for draw in draws:
        right += [task.is_correct(p, t) for p, t in zip(prompts, draw.texts, strict=True)]
        eos = tokenizer.eos_token_id
        lengths += [len([t for t in ids if t != eos]) for ids in draw.completion_ids]
        kls += (
            _logps(policy, tokenizer, draw.prompt_ids, draw.completion_ids)
            - _logps(base, tokenizer, draw.prompt_ids, draw.completion_ids)
        ).tolist()
    greedy = _greedy(policy, tokenizer, prompts)
    return Measurement(
        success=sum(right) / len(right),
        greedy_success=sum(task.is_correct(p, t) for p, t in zip(prompts, greedy, strict=True))
        / len(prompts),
        kl_to_base=sum(kls) / len(kls),
        mean_length=sum(lengths) / len(lengths),
    )


@torch.no_grad()
def _greedy(model, tokenizer, prompts: list[str]) -> list[str]:
    ids = prompt_token_ids(tokenizer, prompts)
    width = max(len(p) for p in ids)
    input_ids = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, prompt in enumerate(ids):
        input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
        attention_mask[row, width - len(prompt) :] = 1
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        do_sample=False,
        max_new_tokens=MAX_NEW_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
