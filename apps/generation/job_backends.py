"""Which models a generation job samples: trained policy runs, local models (chosen by
reference from apps/training/model_choices.py, loaded offline) and OpenAI-compatible endpoints,
checked before the job is queued and again on the worker."""

import re
from typing import Any

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.generation.backends import BackendConfigError, validate_config
from apps.generation.endpoints import callable_config, stored_backend_config
from apps.projects.models import Project
from apps.training.model_choices import (
    backend_config_resolve,
    model_reference_check,
    projects_administered_by,
)

NAME_LENGTH = 200  # Response.source
_RUN_REFERENCE = re.compile(r"run:([1-9][0-9]{0,17})")


def _short(text: str) -> str:
    return text if len(text) <= NAME_LENGTH else "…" + text[-(NAME_LENGTH - 1) :]


def _policy_run_backend(*, user: User, run_id: Any) -> dict:
    from apps.training.models import RunStatus, TrainingRun
    from apps.training.services import run_model_dir

    run = TrainingRun.objects.filter(
        pk=run_id,
        project__in=projects_administered_by(user=user),
        family="policy",
        status=RunStatus.SUCCEEDED,
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
        # A reference, not the folder: the worker resolves it (entry_backend_config).
        "config": {"type": "transformers", "model": f"run:{run.pk}"},
        "training_run": run.pk,
    }


def resolve_backends(*, project: Project, user: User, specs: list[dict]) -> list[dict]:
    """The job's `backends` entries from what the admin chose. Each spec is either
    {"training_run": id} (a succeeded policy run of a project the user administers) or a backend
    config (see backends.py) whose local `model` is a reference from model_choices.py (never a
    path), with an optional "name" that becomes Response.source (default: the model's name)."""
    if not specs:
        raise ApplicationError("Choose at least one model.")
    entries = []
    for spec in specs:
        spec = dict(spec)
        name = str(spec.pop("name", "") or "").strip()
        run_reference = _RUN_REFERENCE.fullmatch(str(spec.get("model", "")).strip())
        if spec.get("type") == "transformers" and run_reference:
            spec = {k: v for k, v in spec.items() if k not in ("type", "model")}
            spec["training_run"] = int(run_reference[1])
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
                config["model"] = model_reference_check(
                    reference=config["model"],
                    project=project,
                    family="policy",
                    what="the local model",
                    adapters=True,
                )
            elif config["type"] == "openai":
                # The URL and key go into the project's endpoint row; the job names the row.
                config = stored_backend_config(config=spec, project=project, actor=user)
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


def entry_backend_config(*, job, entry: dict) -> dict:
    """The backend config a worker builds the entry's backend from: a local model's reference
    turned into its folder, checked again now (a policy run must still belong to a project the
    job's creator administers), and a model server's URL and key read from its endpoint row."""
    config = backend_config_resolve(
        config=entry["config"],
        project=job.project,
        run_projects=projects_administered_by(user=job.created_by),
    )
    return callable_config(config, project_id=job.project_id)
