"""Bad input is refused with a TrainerError that says what is wrong, before any training starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer import tiny
from trainer import (
    ConfigError,
    DatasetError,
    ModelLoadError,
    UnknownObjectiveError,
    objectives,
    train,
)
from trainer.data import load_rows


def test_objectives_list_the_dataset_kind_each_needs():
    assert objectives["reward_pairwise"].dataset_kind == "pairwise"
    assert objectives["dpo"].dataset_kind == "pairwise"
    assert objectives["kto"].dataset_kind == "unpaired_binary"
    assert objectives["reward_listwise"].dataset_kind == "listwise"
    assert objectives["lipo"].dataset_kind == "listwise"
    assert objectives["reward_principle"].dataset_kind == "principles"
    assert objectives["reward_reaction"].dataset_kind == "reactions"
    assert objectives["raft"].dataset_kind == "prompts"


def test_unknown_objective_is_refused(tmp_path, write_rows):
    path = write_rows("train", tiny.pairwise_rows(8, seed=0))
    with pytest.raises(UnknownObjectiveError, match="ppo"):
        train(objective="ppo", config={}, train_path=path, output_dir=tmp_path / "out")


def test_unknown_config_key_and_wrong_type_are_refused(tmp_path, write_rows):
    path = write_rows("train", tiny.pairwise_rows(8, seed=0))
    with pytest.raises(ConfigError, match="learning_rat"):
        train(
            objective="reward_pairwise",
            config={"learning_rat": 1e-3},
            train_path=path,
            output_dir=tmp_path,
        )
    with pytest.raises(ConfigError, match="batch_size"):
        train(
            objective="reward_pairwise",
            config={"batch_size": "16"},
            train_path=path,
            output_dir=tmp_path,
        )
    with pytest.raises(ConfigError, match="loss_type"):
        train(
            objective="dpo",
            config={"model": "x", "loss_type": ["nope"]},
            train_path=path,
            output_dir=tmp_path,
        )
    with pytest.raises(ConfigError, match="model"):
        train(objective="dpo", config={}, train_path=path, output_dir=tmp_path)


def test_wrong_columns_name_the_missing_column(tmp_path, write_rows):
    path = write_rows("train", [{"prompt": "p", "completion": "c", "label": True}] * 8)
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['chosen', 'rejected'\]"):
        load_rows("pairwise", path)


def test_too_few_rows_and_bad_values_are_refused(write_rows):
    with pytest.raises(DatasetError, match="needs at least 4"):
        load_rows("pairwise", write_rows("few", tiny.pairwise_rows(2, seed=0)))
    bad_rank = [{"prompt": "p", "responses": ["a", "b"], "ranks": [1]}] * 4
    with pytest.raises(DatasetError, match="row 1"):
        load_rows("listwise", write_rows("ranks", bad_rank))
    bad_reaction = [{"prompt": "p", "completion": "c", "reaction": "meh"}] * 4
    with pytest.raises(DatasetError, match="reaction"):
        load_rows("reactions", write_rows("reactions", bad_reaction))


def test_invalid_json_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(
        '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{not json\n', encoding="utf-8"
    )
    with pytest.raises(DatasetError, match="line 2"):
        load_rows("pairwise", path, min_rows=1)


def test_messages_prompts_and_margins_are_accepted(write_rows):
    rows = [
        {
            "prompt": [{"role": "user", "content": "hi"}],
            "chosen": " a",
            "rejected": " b",
            "margin": 1,
        },
    ] * 4
    loaded = load_rows("pairwise", write_rows("messages", rows))
    assert loaded[0]["margin"] == 1.0


def test_a_base_model_missing_offline_is_refused_plainly(tmp_path, write_rows):
    path = write_rows("train", tiny.pairwise_rows(8, seed=0))
    with pytest.raises(ModelLoadError, match="does not download"):
        train(
            objective="reward_pairwise",
            config={"model": "no-such-org/no-such-model"},
            train_path=path,
            output_dir=tmp_path / "out",
        )


def test_a_directory_without_weights_is_refused(tmp_path, write_rows, tiny_bert):
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (weightless / name).write_bytes((tiny_bert / name).read_bytes())
    path = write_rows("train", tiny.pairwise_rows(8, seed=0))
    with pytest.raises(ModelLoadError):
        train(
            objective="reward_pairwise",
            config={"model": str(weightless)},
            train_path=path,
            output_dir=tmp_path,
        )


def test_trainer_never_imports_django():
    code = (
        "import sys, pkgutil, importlib, trainer\n"
        "for m in pkgutil.walk_packages(trainer.__path__, 'trainer.'):\n"
        "    if m.name != 'trainer.__main__': importlib.import_module(m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('django', 'apps', 'config')]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)
