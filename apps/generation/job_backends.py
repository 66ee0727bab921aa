"""Which models a generation job samples: trained policy runs, local models (directories or
cached ids, loaded offline) and OpenAI-compatible endpoints, checked before the job is queued."""

from pathlib import Path
from typing import Any

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.generation.backends import BackendConfigError, validate_config

NAME_LENGTH = 200  # Response.source


def _short(text: str) -> str:
    return text if len(text) <= NAME_LENGTH else "…" + text[-(NAME_LENGTH - 1) :]


def _check_local_model(path: str) -> None:
    """A local model must load offline: a directory holding a model or a LoRA adapter, or a
    model id already in the local Hugging Face cache. Nothing is downloaded."""
    directory = Path(path)
    if directory.is_dir():
        if not any((directory / f).exists() for f in ("config.json", "adapter_config.json")):
            raise ApplicationError(
                f"{path} holds no config.json or adapter_config.json; it is not a model directory."
            )
        return
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        raise ApplicationError(
            f"Unknown local model {path!r}: it is neither a directory nor in the local model "
            "cache, and generation never downloads models."
        ) from None


def _policy_run_backend(*, user: User, run_id: Any) -> dict:
    from apps.projects.models import Role
    from apps.projects.selectors import projects_for_user
    from apps.training.models import RunStatus, TrainingRun
    from apps.training.services import run_model_dir

    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    run = TrainingRun.objects.filter(
        pk=run_id, project__in=projects, family="policy", status=RunStatus.SUCCEEDED
    ).first()
    if run is None:
        raise ApplicationError(
            f"Run {run_id} is not a succeeded policy run of a project you administer."
        )
    model_dir = run_model_dir(run)
    if not (model_dir / "config.json").exists():
        raise ApplicationError(f"The trained model of run {run.pk} is missing from storage.")
    return {
        "name": f"policy run {run.pk} ({run.objective})",
        "config": {"type": "transformers", "model": str(model_dir)},
        "training_run": run.pk,
    }


def resolve_backends(*, user: User, specs: list[dict]) -> list[dict]:
    """The job's `backends` entries from what the admin chose. Each spec is either
    {"training_run": id} (a succeeded policy run) or a backend config (see backends.py), with
    an optional "name" that becomes Response.source (default: the model's name or path)."""
    if not specs:
        raise ApplicationError("Choose at least one model.")
    entries = []
    for spec in specs:
        spec = dict(spec)
        name = str(spec.pop("name", "") or "").strip()
        if "training_run" in spec:
            entry = _policy_run_backend(user=user, run_id=spec.pop("training_run"))
            if spec:  # sampling overrides such as a device or a timeout
                try:
                    entry["config"] = validate_config({**spec, **entry["config"]})
                except BackendConfigError as exc:
                    raise ApplicationError(str(exc)) from None
        else:
            try:
                config = validate_config(spec)
            except BackendConfigError as exc:
                raise ApplicationError(str(exc)) from None
            if config["type"] == "transformers":
                _check_local_model(config["model"])
            entry = {"name": config["model"], "config": config, "training_run": None}
        entry["name"] = _short(name or entry["name"])
        entries.append(entry)
    names = [entry["name"] for entry in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ApplicationError(
            f"Two models share the name {', '.join(repeated)}: give each a name of its own."
        )
    return entries
