"""Loading a policy, turning prompts into text the way it expects, and tokenising prompt + completion."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (
    AutoModelForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from trainer.config import PolicyConfig
from trainer.data import Prompt, prompt_as_text
from trainer.device import DeviceChoice
from trainer.errors import ModelLoadError
from trainer.models import load_model, load_tokenizer


def load_policy(
    config: PolicyConfig, device: DeviceChoice, *, name: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the causal LM `name` (default: config.model) and its tokenizer from local files, in fp32.

    fp32 weights on both devices: on CUDA bf16 comes from autocast, which keeps optimizer state exact.
    The tokenizer gets a pad token (its EOS) when it has none.
    """
    name = name or config.model
    if name is None:
        raise ModelLoadError("no policy model given")
    tokenizer = load_tokenizer(name, allow_download=config.allow_download)
    if tokenizer.eos_token is None:
        raise ModelLoadError(
            f"the tokenizer of {name!r} has no EOS token; a policy needs one to end completions"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_model(
        AutoModelForCausalLM, name, allow_download=config.allow_download, dtype=torch.float32
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device.device), tokenizer


def render_prompt(prompt: Prompt, tokenizer: PreTrainedTokenizerBase) -> str:
    """The text the policy continues: through the tokenizer's chat template when it has one (ending with the
    assistant turn's opening), otherwise the raw string or 'role: content' lines."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return prompt_as_text(prompt)


def join_completion(prompt_text: str, completion: str) -> str:
    """The completion as it should follow `prompt_text`: raw strings are joined with a space when neither side
    has one, so the last prompt word and the first completion word never fuse into one token."""
    if prompt_text and completion and not prompt_text[-1].isspace() and not completion[0].isspace():
        return " " + completion
    return completion


@dataclass(frozen=True)
class CompletionIds:
    """Token ids of prompt + completion (+ EOS) and where the completion starts."""

    input_ids: list[int]
    completion_start: int


def encode_completion(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, completion: str, *, max_length: int
) -> CompletionIds:
    """Tokenise prompt and completion separately (so the boundary is exact), append EOS, fit `max_length`.

    When too long, the completion keeps its start (at least half the budget) and the prompt keeps its end.
    """
    special = not getattr(tokenizer, "chat_template", None)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=special)["input_ids"]
    completion_ids = tokenizer(join_completion(prompt_text, completion), add_special_tokens=False)[
        "input_ids"
    ]
    completion_ids = [*completion_ids, tokenizer.eos_token_id]
    if len(prompt_ids) + len(completion_ids) > max_length:
        completion_ids = completion_ids[: max(max_length - len(prompt_ids), max_length // 2)]
        prompt_ids = prompt_ids[len(prompt_ids) - (max_length - len(completion_ids)) :]
    return CompletionIds(input_ids=prompt_ids + completion_ids, completion_start=len(prompt_ids))


def pad_completions(
    items: list[CompletionIds], *, pad_token_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Right-pad to the batch's longest; `completion_mask` marks completion tokens (the ones that are scored)."""
    width = max(len(item.input_ids) for item in items)
    input_ids = torch.full((len(items), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(items), width), dtype=torch.long)
    completion_mask = torch.zeros((len(items), width), dtype=torch.bool)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        input_ids[row, :n] = torch.tensor(item.input_ids)
        attention_mask[row, :n] = 1
        completion_mask[row, item.completion_start : n] = True
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": attention_mask.to(device),
        "completion_mask": completion_mask.to(device),
    }


def token_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """(B, T) log-probability of each token given the ones before it; position 0 (no context) gets 0."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    picked = torch.gather(logits.log_softmax(dim=-1), 2, input_ids[:, 1:, None]).squeeze(2)
    return torch.cat([picked.new_zeros((picked.shape[0], 1)), picked], dim=1)


def completion_logps(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B,) summed log-probability of each row's completion tokens under `model`."""
    logps = token_logps(model, batch["input_ids"], batch["attention_mask"])
    return (logps * batch["completion_mask"]).sum(dim=1)
