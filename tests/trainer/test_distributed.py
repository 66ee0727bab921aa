"""Two processes under torchrun (gloo, CPU) train exactly as one process with the same global batch, under
DDP and under FSDP2 (the full model saved).

`accelerate launch --cpu --num_processes 2` starts only one process on this machine, so the launcher here is
torchrun; the loop itself runs on accelerate either way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from tests.trainer import tiny
from trainer import train

CONFIG = {
    "model": None,  # set per test
    "learning_rate": 2e-3,
    "batch_size": 8,
    "gradient_accumulation_steps": 2,
    "max_steps": 6,
    "save_steps": 2,
    "num_threads": 1,
    "device": "cpu",
}


def torchrun(
    *args: str,
    config: Path,
    data: Path,
    out: Path,
    progress: Path | None = None,
    entry: str = "-m trainer",
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *entry.split(),
        "train",
        "--objective",
        "reward_pairwise",
        "--config",
        str(config),
        "--data",
        str(data),
        "--out",
        str(out),
        *args,
    ]
    if progress is not None:
        command += ["--progress-file", str(progress)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def progress_steps(path: Path) -> list[int]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines if '"event": "progress"' in line]


@pytest.fixture
def run_files(tmp_path, tiny_bert):
    def write(**overrides) -> tuple[Path, Path]:
        config = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.json"
        config.write_text(json.dumps({**CONFIG, "model": str(tiny_bert), **overrides}))
        return config

    data = tiny.write_jsonl(tiny.pairwise_rows(40, seed=1), tmp_path / "train.jsonl")
    return write, data


def test_two_processes_follow_one_process_loss_curve_and_weights_and_write_once(
    tmp_path, run_files
):
    write_config, data = run_files
    config = write_config()
    single = train(
        objective="reward_pairwise",
        config=json.loads(config.read_text()),
        train_path=data,
        output_dir=tmp_path / "one",
    )

    progress = tmp_path / "progress.jsonl"
    launched = torchrun(config=config, data=data, out=tmp_path / "two", progress=progress)
    output, _ = launched.communicate(timeout=240)
    assert launched.returncode == 0, output
    assert "training on 2 processes (MULTI_CPU)" in output

    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    two_losses = [entry["loss"] for entry in two["history"] if "loss" in entry]
    one_losses = [entry["loss"] for entry in single.history if "loss" in entry]
    assert len(two_losses) == 6
    assert two_losses == pytest.approx(one_losses, rel=1e-4, abs=1e-5)
    one_weights = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    two_weights = load_file(str(tmp_path / "two" / "model" / "model.safetensors"))
    assert one_weights.keys() == two_weights.keys()
    for name, value in one_weights.items():
        torch.testing.assert_close(two_weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
    head_one = load_file(str(tmp_path / "one" / "model" / "reward_head.safetensors"))
    head_two = load_file(str(tmp_path / "two" / "model" / "reward_head.safetensors"))
    torch.testing.assert_close(head_two["weight"], head_one["weight"], rtol=1e-4, atol=1e-5)
    # Only the main process reported and wrote: each step once, one result line, one printed result.
    assert progress_steps(progress) == [1, 2, 3, 4, 5, 6]
    results = [line for line in progress.read_text().splitlines() if '"event": "result"' in line]
    assert len(results) == 1
    assert output.count('"status": "succeeded"') == 1
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == [
        "checkpoint-2",
        "checkpoint-4",
    ]


def test_a_killed_rank_ends_the_launch_and_resume_finishes_the_run(tmp_path, run_files):
    write_config, data = run_files
    config = write_config(max_steps=40, gradient_accumulation_steps=1, save_steps=2)
    progress = tmp_path / "progress.jsonl"
    out = tmp_path / "run"
    launched = torchrun(config=config, data=data, out=out, progress=progress)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "checkpoint-2" / "state.pt").exists():
        assert launched.poll() is None, launched.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ranks = psutil.Process(launched.pid).children()
    assert len(ranks) == 2
    os.kill(ranks[-1].pid, signal.SIGKILL)
    output, _ = launched.communicate(timeout=120)
    assert launched.returncode != 0
    killed_at = max(progress_steps(progress))
    assert killed_at < 40, "the rank was killed after the run had ended"
    assert not (out / "metrics.json").exists()

    resumed = torchrun("--resume", config=config, data=data, out=out, progress=progress)
    output, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, output
    assert "resuming from checkpoint-" in output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "succeeded"
    assert [entry["step"] for entry in metrics["history"] if "loss" in entry] == list(range(1, 41))


def test_fsdp2_on_two_cpu_processes_saves_the_full_model_equal_to_one_process(tmp_path, run_files):
    """Sharded by accelerate's FSDP2 (torch's fully_shard over gloo, see tests/trainer/fsdp_cpu.py), the run
    still saves every parameter at its full shape, loadable as a fresh model, with one process's weights."""
    from trainer.reward.model import load_reward_model_files

    write_config, data = run_files
    # No checkpoints: accelerate's save_state fails on CPU FSDP2 (see fsdp_cpu.py).
    config = write_config(max_steps=2, save_steps=0)
    single = train(
        objective="reward_pairwise",
        config=json.loads(config.read_text()),
        train_path=data,
        output_dir=tmp_path / "one",
    )
    launched = torchrun(
        config=config, data=data, out=tmp_path / "fsdp", entry="tests/trainer/fsdp_cpu.py"
    )
    output, _ = launched.communicate(timeout=240)
    assert launched.returncode == 0, output
    assert "training on 2 processes (FSDP)" in output

    one_weights = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    fsdp_weights = load_file(str(tmp_path / "fsdp" / "model" / "model.safetensors"))
    assert fsdp_weights.keys() == one_weights.keys()
    for name, value in one_weights.items():
        assert fsdp_weights[name].shape == value.shape, name
        torch.testing.assert_close(fsdp_weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
    head_one = load_file(str(tmp_path / "one" / "model" / "reward_head.safetensors"))
    head_fsdp = load_file(str(tmp_path / "fsdp" / "model" / "reward_head.safetensors"))
    torch.testing.assert_close(head_fsdp["weight"], head_one["weight"], rtol=1e-4, atol=1e-5)
    # The weights moved, and the saved directory loads as a model that scores as the one-process model does.
    untrained = load_file(str(Path(json.loads(config.read_text())["model"]) / "model.safetensors"))
    assert any(not torch.equal(fsdp_weights[k], untrained[k]) for k in untrained)
    loaded, _, _ = load_reward_model_files(tmp_path / "fsdp" / "model")
    reference, _, _ = load_reward_model_files(single.model_dir)
    inputs = {"input_ids": torch.tensor([[1, 5, 7, 2]]), "attention_mask": torch.ones(1, 4)}
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs), reference(**inputs), rtol=1e-4, atol=1e-5)
