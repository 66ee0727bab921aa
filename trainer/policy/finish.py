"""The end of every policy run: save the model, evaluate on held-out prompts, write metrics.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from trainer.events import Status, TrainingResult
from trainer.outputs import MODEL_SUBDIR, write_metrics
from trainer.policy.common import load_policy
from trainer.policy.evaluate import TrainingReward, generation_metrics
from trainer.policy.hf_bridge import is_main_process
from trainer.policy.run import PolicyRun

POLICY_METADATA_FILE = "arbiter_policy.json"

# (policy, reference) -> objective-specific held-out metrics, e.g. implicit-reward accuracy.
ObjectiveMetrics = Callable[[torch.nn.Module, torch.nn.Module], dict[str, float]]


def merged(model: torch.nn.Module) -> PreTrainedModel:
    """The plain model, with LoRA adapters merged in when the model carries any."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model  # type: ignore[return-value]


def save_policy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    directory: Path,
    *,
    metadata: dict[str, Any],
) -> Path:
    """Save a causal-LM directory loadable with AutoModelForCausalLM, plus a small metadata file."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / POLICY_METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return directory


def finish_policy_run(
    run: PolicyRun,
    *,
    objective: str,
    status: Status,
    model: torch.nn.Module,
    reference: torch.nn.Module | None,
    tokenizer: PreTrainedTokenizerBase,
    history: list[dict[str, Any]],
    step: int,
    runtime: float,
    objective_metrics: ObjectiveMetrics | None = None,
    judge_dir: str | None = None,
    extra_metrics: dict[str, float] | None = None,
    training_reward: TrainingReward | None = None,
) -> TrainingResult:
    """Save the (merged) policy to run.output_dir/model; for a finished run with held-out rows
    (`run.eval_rows`), evaluate it against `reference` (the frozen base; loaded afresh when None)
    and write metrics.json. Returns the run's result.
    `training_reward` is the reward the run optimised, for the reward-hacking watch (see generation_metrics).
    Under several processes only the main one evaluates and writes; the others return an empty result."""
    config, device, eval_rows, output_dir = run.config, run.device, run.eval_rows, run.output_dir
    if not is_main_process():
        return TrainingResult(
            status=status, metrics={}, model_dir=output_dir / MODEL_SUBDIR, history=[]
        )
    policy = merged(model)
    policy.eval()
    finished = status == "succeeded"
    metrics: dict[str, float] = dict(extra_metrics or {})
    if finished and eval_rows:
        if reference is None:
            reference, _ = load_policy(config, device)
        reference.eval()
        if objective_metrics is not None:
            metrics.update(objective_metrics(policy, reference))
        metrics.update(
            generation_metrics(
                policy=policy,
                reference=reference,
                tokenizer=tokenizer,
                prompts=[row["prompt"] for row in eval_rows],
                config=config,
                device=device,
                judge_dir=judge_dir or config.judge_reward_model,
                training_reward=training_reward,
            )
        )
        run.callbacks.on_log(
            "held-out: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
        )
    elif not finished and history:
        last = history[-1]
        metrics.update(
            {f"train_{k}": float(v) for k, v in last.items() if isinstance(v, int | float)}
        )
    metrics["train_steps"] = float(step)
    metrics["train_runtime_seconds"] = runtime
    if finished and eval_rows:
        history = [*history, {"step": step, "eval": dict(metrics)}]
    model_dir = output_dir / MODEL_SUBDIR
    save_policy(
        policy,
        tokenizer,
        model_dir,
        metadata={"objective": objective, "finished": finished, "base": config.model},
    )
    write_metrics(
        output_dir,
        objective=objective,
        status=status,
        metrics=metrics,
        history=history,
        config=config,
    )
    return TrainingResult(status=status, metrics=metrics, model_dir=model_dir, history=history)
