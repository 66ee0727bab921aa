"""Benchmark: a reward model on a small decoder LM, our loop against TRL's RewardTrainer.

    python bench/training/bench_decoder.py [--train-pairs 480] [--eval-pairs 160] [--threads 2] [--seed 0]

The backbone is a random-weight Llama built from a config (4 layers, 128 wide, 4 heads, 2 key-value heads;
the tests' tiny Llama, widened) with a word-level tokenizer over the benchmark's own vocabulary, saved to a
temporary folder: nothing is downloaded. Both sides train the pairwise (Bradley-Terry) objective on the same
synthetic pairs (synthetic.py), with prompt and response joined as one string (TRL's input), in fp32 without
gradient checkpointing, with the same threads, max_length, batch size, learning rate, linear schedule, fused
AdamW, seed and epoch. Both read the score at the last real token: ours through `pooling: "last"` after the
EOS it appends, TRL's through LlamaForSequenceClassification after the EOS it appends. The tokenizer has a
pad token of its own, because with pad == EOS a sequence classifier that locates the last token by the pad id
would score the token before the EOS. Each side runs in its own process. One line, key=value:

    decoder=tiny-llama ours_pairs_per_s=<n> trl_pairs_per_s=<n> speedup_vs_trl=<x> accuracy=<a> trl_accuracy=<a>
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.training.synthetic import make_pairs, write_jsonl

HYPERPARAMETERS = {
    "batch_size": 16,
    "learning_rate": 3e-4,
    "num_epochs": 1,
    "max_length": 128,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
}
SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def build_llama(directory: Path, texts: list[str]) -> Path:
    """A random Llama backbone and a word-level tokenizer (BOS in front, its own pad) for these texts."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in re.findall(r"\w+|[^\w\s]", text)})
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", "<pad>", *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=SHAPE["max_position_embeddings"],
    )
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
        **SHAPE,
    )
    LlamaModel(config).save_pretrained(directory)
    return directory


def run_ours(
    model_dir: str, train_path: str, eval_path: str, threads: int, seed: int, queue
) -> None:
    from trainer import train

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        result = train(
            objective="reward_pairwise",
            config={
                **HYPERPARAMETERS,
                "model": model_dir,
                "input_template": "joined",
                "num_threads": threads,
                "device": "cpu",
                "seed": seed,
                "save_steps": 0,
            },
            train_path=Path(train_path),
            eval_path=Path(eval_path),
            output_dir=Path(out),
        )
    rows = len(Path(train_path).read_text(encoding="utf-8").splitlines())
    pairs = rows - result.metrics.get("rows_dropped", 0)
    queue.put(
        {
            "pairs_per_s": pairs / result.metrics["train_runtime_seconds"],
            "accuracy": result.metrics["pairwise_accuracy"],
            "total_seconds": time.monotonic() - started,
        }
    )


def run_trl(
    model_dir: str, train_path: str, eval_path: str, threads: int, seed: int, queue
) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    torch.set_num_threads(threads)
    started = time.monotonic()
    rows = [json.loads(line) for line in Path(train_path).read_text().splitlines()]
    eval_rows = [json.loads(line) for line in Path(eval_path).read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as out:
        args = RewardConfig(
            output_dir=out,
            per_device_train_batch_size=HYPERPARAMETERS["batch_size"],
            learning_rate=HYPERPARAMETERS["learning_rate"],
            num_train_epochs=HYPERPARAMETERS["num_epochs"],
            max_length=HYPERPARAMETERS["max_length"],
            weight_decay=HYPERPARAMETERS["weight_decay"],
            max_grad_norm=HYPERPARAMETERS["max_grad_norm"],
            seed=seed,
            warmup_steps=0,
            lr_scheduler_type="linear",
            optim="adamw_torch_fused",
            bf16=False,
            activation_checkpointing=False,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = RewardTrainer(
            model=model_dir,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )
        kept = len(trainer.train_dataset)
        output = trainer.train()
        model = trainer.model.eval()
        outcomes = []
        with torch.no_grad():
            for start in range(0, len(eval_rows), 32):
                chunk = eval_rows[start : start + 32]
                texts = [r["prompt"] + r["chosen"] + tokenizer.eos_token for r in chunk]
                texts += [r["prompt"] + r["rejected"] + tokenizer.eos_token for r in chunk]
                batch = tokenizer(
                    texts,
                    padding=True,
                    truncation=True,
                    max_length=HYPERPARAMETERS["max_length"],
                    return_tensors="pt",
                )
                scores = model(**batch).logits[:, 0]
                chosen, rejected = scores[: len(chunk)], scores[len(chunk) :]
                outcomes += (
                    (chosen > rejected).float() + 0.5 * (chosen == rejected).float()
                ).tolist()
    queue.put(
        {
            "pairs_per_s": kept / output.metrics["train_runtime"],
            "accuracy": sum(outcomes) / len(outcomes),
            "total_seconds": time.monotonic() - started,
        }
    )


def run_side(runner, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=runner, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-pairs", type=int, default=480)
    parser.add_argument("--eval-pairs", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        train_rows = make_pairs(args.train_pairs, seed=1)
        eval_rows = make_pairs(args.eval_pairs, seed=2)
        train_path = write_jsonl(train_rows, root / "train.jsonl")
        eval_path = write_jsonl(eval_rows, root / "eval.jsonl")
        texts = [r[k] for r in train_rows + eval_rows for k in ("prompt", "chosen", "rejected")]
        model_dir = build_llama(root / "tiny-llama", texts)
        common = (str(model_dir), str(train_path), str(eval_path), args.threads, args.seed)
        trl = run_side(run_trl, *common)
        ours = run_side(run_ours, *common)
    print(
        f"decoder=tiny-llama ours_pairs_per_s={ours['pairs_per_s']:.1f} "
        f"trl_pairs_per_s={trl['pairs_per_s']:.1f} "
        f"speedup_vs_trl={ours['pairs_per_s'] / trl['pairs_per_s']:.2f} "
        f"accuracy={ours['accuracy']:.4f} trl_accuracy={trl['accuracy']:.4f} "
        f"threads={args.threads} precision=fp32"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
