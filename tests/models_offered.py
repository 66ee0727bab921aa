"""Test models offered the way an operator offers base models: their folder's parent becomes a
model root (ARBITER_MODEL_ROOTS), and runs and services name them by reference, never by path."""

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
