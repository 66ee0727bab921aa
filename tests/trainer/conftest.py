"""Fixtures for the trainer tests: tiny models saved once per session, data files per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.trainer import tiny

# The trainer must work offline; make any accidental download fail loudly instead of hanging.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture
def write_rows(tmp_path: Path):
    """Write rows to tmp_path/<name>.jsonl and return the path."""

    def write(name: str, rows: list[dict]) -> Path:
        return tiny.write_jsonl(rows, tmp_path / f"{name}.jsonl")

    return write


@pytest.fixture(scope="session")
def tiny_reward_model(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Path:
    """A pairwise reward model trained briefly on the tiny data: the judge and RAFT ranker for policy tests."""
    from trainer import train

    directory = tmp_path_factory.mktemp("tiny-reward")
    train_path = tiny.write_jsonl(tiny.pairwise_rows(128, seed=11), directory / "train.jsonl")
    result = train(
        objective="reward_pairwise",
        config={
            "model": str(tiny_bert),
            "learning_rate": 2e-3,
            "batch_size": 16,
            "max_steps": 16,
            "save_steps": 0,
        },
        train_path=train_path,
        output_dir=directory / "run",
    )
    return result.model_dir
