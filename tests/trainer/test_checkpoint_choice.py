"""Resuming a TRL-driven run picks the newest checkpoint that was written to the end."""

from trainer.policy.hf_bridge import last_complete_checkpoint


def _checkpoint(root, step: int, *, complete: bool):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    if complete:
        (folder / "trainer_state.json").write_text("{}")
    return folder


def test_a_checkpoint_cut_short_by_a_killed_worker_is_passed_over(tmp_path):
    _checkpoint(tmp_path, 5, complete=True)
    _checkpoint(tmp_path, 10, complete=False)  # the worker died while saving it
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-5")


def test_the_newest_complete_checkpoint_wins_by_step_not_by_name(tmp_path):
    _checkpoint(tmp_path, 9, complete=True)
    _checkpoint(tmp_path, 10, complete=True)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


def test_no_complete_checkpoint_means_starting_from_the_beginning(tmp_path):
    _checkpoint(tmp_path, 5, complete=False)
    assert last_complete_checkpoint(tmp_path) is None
    assert last_complete_checkpoint(tmp_path / "missing") is None
