"""lipo: LiPO-λ policy optimisation on ranked lists, with our loop (TRL has no listwise trainer).

Each list's responses are scored by the implicit reward s_i = β · (log π(y_i|x) - log π_ref(y_i|x)) and
`trainer.losses.lipo_policy_loss` weights every correctly-ordered pair by its LambdaRank Δ. The reference
log-probabilities are computed once, before the first update, and kept in the output directory, so neither a
second model copy nor a resumed run has to recompute them.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from trainer.config import LipoConfig
from trainer.device import DeviceChoice
from trainer.events import TrainingCallbacks, TrainingResult
from trainer.loop import run_loop
from trainer.losses import lipo_policy_loss
from trainer.metrics import kendall_tau, mean, ndcg, pairwise_accuracy
from trainer.models import apply_lora
from trainer.policy.common import (
    CompletionIds,
    completion_logps,
    encode_completion,
    load_policy,
    pad_completions,
    render_prompt,
)
from trainer.policy.evaluate import implicit_rewards
from trainer.policy.finish import finish_policy_run
from trainer.policy.run import policy_run_start
from trainer.reward.batching import shuffled_batches
from trainer.reward.listwise import pad_lists

REFERENCE_FILE = "lipo_reference_logps.pt"


def train_lipo(
    *,
    config: LipoConfig,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    callbacks: TrainingCallbacks,
    resume: bool,
) -> TrainingResult:
    """Train a policy with LiPO-λ; held-out metrics: implicit-reward NDCG, Kendall's tau, pairwise accuracy,
    KL to the reference and (with a judge) the win rate."""
    run = policy_run_start(
        config=config,
        kind="listwise",
        train_path=train_path,
        eval_path=eval_path,
        output_dir=output_dir,
        callbacks=callbacks,
    )
    device, train_rows, eval_rows = run.device, run.train_rows, run.eval_rows
    model, tokenizer = load_policy(config, device)
    lists: list[list[CompletionIds]] = []
    for row in train_rows:
        prompt = render_prompt(row["prompt"], tokenizer)
        lists.append(
            [
                encode_completion(tokenizer, prompt, r, max_length=config.max_length)
                for r in row["responses"]
            ]
        )
    ranks = [list(row["ranks"]) for row in train_rows]
    reference_logps = _reference_logps(
        model, lists, config=config, device=device, output_dir=output_dir, reuse=resume
    )
    if config.lora:
        model = apply_lora(model, config, task_type="CAUSAL_LM")
    if device.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    pad_id = tokenizer.pad_token_id

    def make_batches(epoch: int) -> list[list[int]]:
        return shuffled_batches(len(lists), config.batch_size, seed=config.seed, epoch=epoch)

    def compute_loss(
        batch: list[int], prepared: torch.nn.Module
    ) -> tuple[torch.Tensor, dict[str, float]]:
        items = [item for b in batch for item in lists[b]]
        inputs = pad_completions(items, pad_token_id=pad_id, device=device.device)
        policy_flat = completion_logps(prepared, inputs)
        sizes = [len(lists[b]) for b in batch]
        batch_ranks = [ranks[b] for b in batch]
        policy, rank_tensor, mask = pad_lists(policy_flat, sizes, batch_ranks)
        reference_flat = torch.cat([reference_logps[b] for b in batch]).to(device.device)
        reference, _, _ = pad_lists(reference_flat, sizes, batch_ranks)
        loss = lipo_policy_loss(policy, reference, rank_tensor, mask, beta=config.beta)
        with torch.no_grad():
            shift = (config.beta * (policy - reference))[mask].mean().item()
        return loss, {"implicit_reward_mean": shift}

    callbacks.on_log(f"lipo: {len(lists)} ranked lists on {device.describe()}")
    started = time.monotonic()
    outcome = run_loop(
        model=model,
        make_batches=make_batches,
        compute_loss=compute_loss,
        config=config,
        device=device,
        checkpoint_dir=run.checkpoint_dir,
        callbacks=callbacks,
        resume=resume,
        # The largest micro-batch as padding makes it: every response of the longest list at the longest length.
        peak_tokens=min(config.batch_size, len(lists))
        * max((len(responses) for responses in lists), default=1)
        * max((len(item.input_ids) for responses in lists for item in responses), default=1),
    )
    runtime = time.monotonic() - started

    def objective_metrics(policy, base) -> dict[str, float]:
        return _listwise_metrics(policy, base, tokenizer, eval_rows, config=config, device=device)

    return finish_policy_run(
        run,
        objective="lipo",
        status=outcome.status,
        # Under FSDP/ZeRO-3 `model` holds a shard; the loop gathered the full weights into outcome.model.
        model=outcome.model if outcome.model is not None else model,
        reference=None,
        tokenizer=tokenizer,
        history=outcome.history,
        step=outcome.step,
        runtime=runtime,
        objective_metrics=objective_metrics,
    )


@torch.no_grad()
def _reference_logps(
    model: torch.nn.Module,
    lists: list[list[CompletionIds]],
    *,
    config: LipoConfig,
    device: DeviceChoice,
    output_dir: Path,
    reuse: bool,
) -> list[torch.Tensor]:
    """Summed completion log-probabilities under the untrained model, one (K,) tensor per list.

    Saved to the output directory; a resumed run (`reuse`) reads them back, since its model is no longer the
    untrained one.
    """
    path = output_dir / REFERENCE_FILE
    if reuse and path.is_file():
        cached = torch.load(path, map_location="cpu")
        if len(cached) == len(lists) and all(
            len(c) == len(items) for c, items in zip(cached, lists, strict=True)
        ):
            return cached
    model.eval()
    flat = [item for items in lists for item in items]
    values: list[torch.Tensor] = []
    for start in range(0, len(flat), config.eval_batch_size):
        batch = pad_completions(
            flat[start : start + config.eval_batch_size],
            pad_token_id=model.config.pad_token_id,
            device=device.device,
        )
        with device.autocast():
            values.append(completion_logps(model, batch).float().cpu())
    every = torch.cat(values)
    result, start = [], 0
    for items in lists:
        result.append(every[start : start + len(items)].clone())
        start += len(items)
    torch.save(result, path)
    model.train()
    return result


def _listwise_metrics(policy, base, tokenizer, eval_rows, *, config, device) -> dict[str, float]:
    ndcgs, taus, better, worse = [], [], [], []
    for row in eval_rows:
        rewards = implicit_rewards(
            policy,
            base,
            tokenizer,
            [(row["prompt"], r) for r in row["responses"]],
            config=config,
            device=device,
        )
        ndcgs.append(ndcg(rewards, row["ranks"]))
        tau = kendall_tau(rewards, row["ranks"])
        if tau is not None:
            taus.append(tau)
        for i, rank_i in enumerate(row["ranks"]):
            for j, rank_j in enumerate(row["ranks"]):
                if rank_i < rank_j:
                    better.append(rewards[i])
                    worse.append(rewards[j])
    metrics = {"ndcg": mean(ndcgs)}
    if taus:
        metrics["kendall_tau"] = mean(taus)
    if better:
        metrics["pairwise_accuracy"] = pairwise_accuracy(better, worse)
    return metrics
