"""The GPU check behind bench/gpu/run.sh (see there for how to carry what the GPU machine lacks).

A Qwen2-0.5B-shaped decoder (24 layers, 896 wide, 14 heads, 2 key-value heads, vocabulary 151 936: ~494 M
parameters) is built from its config with random weights, with a word-level tokenizer over synthetic words.
Every training sequence fills max_length exactly, so the tokens counted are the tokens computed.

1. Reward model (pairwise, our loop), bf16 autocast + LoRA, then full fine-tuning.
   tokens/s = steps x pairs x 2 x max_length / loop time; MFU = FLOPs/s / 790e12, with 6 N FLOPs per token for
   full training and 4 N under LoRA (no gradients for the frozen weights), N = the backbone's parameters.
2. DPO steps (TRL's DPOTrainer through our runner) on the causal-LM form of the same decoder, if trl and
   datasets are installed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

PEAK_BF16_FLOPS = 790e12
FULL = {
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
}
SMOKE = {**FULL, "vocab_size": 2048, "hidden_size": 64, "intermediate_size": 128}
SMOKE.update(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def build_decoder(directory: Path, shape: dict, *, causal_lm: bool) -> Path:
    """Save a random Qwen2 (backbone or causal LM) and a word-level tokenizer over words w0..w999."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, Qwen2Model

    vocab = {
        t: i for i, t in enumerate(["<unk>", "<pad>", "</s>", *(f"w{i}" for i in range(1000))])
    }
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    tokenizer.save_pretrained(directory)
    config = Qwen2Config(**shape, pad_token_id=1, eos_token_id=2, bos_token_id=2)
    torch.manual_seed(0)
    model = (Qwen2ForCausalLM if causal_lm else Qwen2Model)(config)
    model.save_pretrained(directory)
    return directory


def synthetic_pairs(count: int, *, words: int, seed: int) -> list[dict]:
    rng = random.Random(seed)

    def text(n: int) -> str:
        return " ".join(f"w{rng.randrange(1000)}" for _ in range(n))

    return [
        {"prompt": text(64), "chosen": " " + text(words), "rejected": " " + text(words)}
        for _ in range(count)
    ]


def write_jsonl(rows: list[dict], path: Path) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def reward_run(
    model_dir: Path, data: Path, out: Path, *, lora: bool, steps: int, batch: int, length: int
) -> dict:
    """Train the pairwise reward model with our loop (called without trainer.api, which needs datasets)."""
    from trainer.config import parse_config
    from trainer.registry import objectives
    from trainer.reward.runner import train_reward_model
    from trainer.reward.tasks_by_objective import TASKS

    config = parse_config(
        objectives["reward_pairwise"].config_class,
        {
            "model": str(model_dir),
            "lora": lora,
            "batch_size": batch,
            "max_steps": steps,
            "max_length": length,
            "learning_rate": 1e-4 if lora else 1e-5,
            "input_template": "joined",
            "save_steps": 0,
            "gradient_checkpointing": True,
        },
    )
    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    result = train_reward_model(
        task_factory=TASKS["reward_pairwise"],
        config=config,
        train_path=data,
        eval_path=None,
        output_dir=out,
        callbacks=__import__("trainer").TrainingCallbacks(
            on_log=lambda line: print("  " + line, flush=True)
        ),
        resume=False,
    )
    seconds = result.metrics["train_runtime_seconds"]
    tokens = steps * batch * 2 * length
    return {"tokens_per_s": tokens / seconds, "seconds": seconds, "peak_gib": _peak_gib()}


def dpo_run(
    model_dir: Path, data: Path, out: Path, *, steps: int, batch: int, length: int
) -> float | None:
    try:
        import datasets  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        print("DPO: skipped (trl or datasets not installed; see run.sh for carrying their wheels)")
        return None
    from trainer import train

    started = time.monotonic()
    train(
        objective="dpo",
        config={
            "model": str(model_dir),
            "batch_size": batch,
            "max_steps": steps,
            "max_length": length,
            "save_steps": 0,
            "gradient_checkpointing": True,
        },
        train_path=data,
        output_dir=out,
    )
    return steps / (time.monotonic() - started)


def _peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 1024**3 if torch.cuda.is_available() else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny model for a few steps (CPU works)"
    )
    args = parser.parse_args()
    shape = SMOKE if args.smoke else FULL
    steps, batch, length = (2, 2, 64) if args.smoke else (30, 16, 512)
    gpu = torch.cuda.get_device_name(0).replace(" ", "_") if torch.cuda.is_available() else "none"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        backbone = build_decoder(root / "backbone", shape, causal_lm=False)
        from transformers import AutoModel

        parameters = sum(p.numel() for p in AutoModel.from_pretrained(backbone).parameters())
        print(f"decoder: Qwen2 shape, {parameters / 1e6:.0f} M parameters; gpu={gpu}", flush=True)
        data = write_jsonl(
            synthetic_pairs(steps * batch, words=length, seed=1), root / "pairs.jsonl"
        )
        results = {}
        for name, lora in (("bf16+lora", True), ("bf16 full", False)):
            figures = reward_run(
                backbone, data, root / name, lora=lora, steps=steps, batch=batch, length=length
            )
            flops_per_token = (4 if lora else 6) * parameters
            figures["mfu"] = figures["tokens_per_s"] * flops_per_token / PEAK_BF16_FLOPS
            results[name] = figures
            print(
                f"reward model {name}: {figures['tokens_per_s']:.0f} tokens/s, MFU {figures['mfu']:.3f}, "
                f"peak {figures['peak_gib']:.1f} GiB, loop {figures['seconds']:.1f}s",
                flush=True,
            )
        policy = build_decoder(root / "policy", shape, causal_lm=True)
        dpo_data = write_jsonl(
            synthetic_pairs(8 * 4, words=length // 2, seed=2), root / "dpo.jsonl"
        )
        dpo = dpo_run(
            policy, dpo_data, root / "dpo", steps=4 if args.smoke else 10, batch=4, length=length
        )
        if dpo is not None:
            print(
                f"DPO: {dpo:.2f} steps/s (batch 4 pairs, max_length {length}, wall time incl. reference)"
            )
    full = results["bf16 full"]
    peak = max(_peak_gib(), *(r["peak_gib"] for r in results.values()))
    print(
        f"gpu={gpu} rm_tokens_per_s={full['tokens_per_s']:.0f} rm_mfu={full['mfu']:.3f} "
        f"dpo_steps_per_s={'na' if dpo is None else f'{dpo:.2f}'} peak_gib={peak:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
