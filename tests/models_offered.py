"""Test models offered the way an operator offers base models: their folder's parent becomes a
model root (ARBITER_MODEL_ROOTS), and runs and services name them by reference, never by path."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


def offer(settings, folder: Path) -> str:
    """Makes `folder`'s parent a model root for this test and returns the model's reference.
    A worker process needs the same root in its environment: see `roots_env`."""
    root = str(folder.parent)
    if root not in settings.ARBITER_MODEL_ROOTS:
        settings.ARBITER_MODEL_ROOTS = [*settings.ARBITER_MODEL_ROOTS, root]
    return f"base:{folder.parent.name}/{folder.name}"


def roots_env(settings) -> dict:
    """The environment a worker process needs to see the same model roots."""
    return {"ARBITER_MODEL_ROOTS": ",".join(settings.ARBITER_MODEL_ROOTS)}


def unloaded_model(folder: Path) -> Path:
    """A folder that counts as a model (it holds a config.json) where a test only chooses and
    checks models and never loads one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "gpt2"}')
    return folder


def as_cached_hub_model(folder: Path, cache: Path, repo_id: str) -> Path:
    """Copies a model folder into a Hugging Face cache laid out as huggingface_hub writes one
    (blobs, a snapshot of links to them, refs/main), as if it had been downloaded as `repo_id`."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    for part in ("blobs", "refs"):
        (repo / part).mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for file in folder.iterdir():
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / file.name)
    return snapshot


@dataclass
class HostileModels:
    """An operator's model root next to what a project admin must never reach through it."""

    root: Path
    base: str  # base:<root>/tiny, offered
    nested: str  # base:<root>/org/nested, offered
    outside: Path  # a model folder outside every root
    escape: Path  # a symlink in the root pointing at `outside`
    attacks: dict[str, str]  # what each attack passes where a model is wanted


def hostile_models(settings, tmp_path: Path, *, other_run_dir: Path, other_run_id: int):
    """Offers tmp_path/operator-models (tiny, org/nested; not: empty, .hidden, escape) and lists
    the ways to name a model outside it: another project's run (by folder and by id), a folder
    outside the roots, `..` out of a root, a symlink out of a root, a path that does not exist."""
    root = tmp_path / "operator-models"
    base = offer(settings, unloaded_model(root / "tiny"))
    nested = f"base:{root.name}/org/nested"
    unloaded_model(root / "org" / "nested")
    (root / "empty").mkdir()
    unloaded_model(root / ".hidden")
    outside = unloaded_model(tmp_path / "elsewhere" / "secret")
    escape = root / "escape"
    os.symlink(outside, escape)
    attacks = {
        "another project's run folder": str(other_run_dir),
        "another project's run": f"run:{other_run_id}",
        "a model folder outside the roots": str(outside),
        "a path that does not exist": "/no/such/model",
        "a relative path": f"{root.name}/tiny",
        "dot-dot out of a root": f"base:{root.name}/../elsewhere/secret",
        "dot-dot through a model": f"base:{root.name}/tiny/../../elsewhere/secret",
        "a symlink out of a root": f"base:{root.name}/escape",
        "a hidden folder": f"base:{root.name}/.hidden",
        "a folder without a model": f"base:{root.name}/empty",
        "an unknown root": "base:etc/passwd",
        "a model not in the cache": "hub:org/not-cached",
    }
    return HostileModels(root, base, nested, outside, escape, attacks)
