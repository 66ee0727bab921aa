"""Models are chosen, never typed as paths.

A project may use three kinds of model, each named by a reference that is stored instead of a path:

    run:12                  a succeeded run of the project (of the family the use needs)
    base:<root>/<folder>    a base model the operator made available: a folder holding a
                            config.json, one or two levels below a folder of ARBITER_MODEL_ROOTS
                            (<root> is that folder's own name)
    hub:<org>/<name>        a model already in this machine's Hugging Face cache

Forms offer `model_choices`; services check what they are given with `model_reference_check` and
store the reference; the worker turns it into a loadable path with `model_reference_path` just
before loading, checking again (a run may be gone, a folder removed). Anything else is refused
with one message whether or not such a path exists on the server, so nothing can be probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.projects.models import Project, Role
from apps.projects.selectors import projects_for_user
from apps.training.models import RunStatus, TrainingRun
from apps.training.storage import run_model_dir, storage_root

RUN_GROUP = "Runs"
BASE_GROUP = "Base models"
HUB_GROUP = "Local Hugging Face cache"

# What marks a folder as a model: full weights, or (where the loader takes them) LoRA adapters.
MODEL_FILES = ("config.json",)
MODEL_OR_ADAPTER_FILES = ("config.json", "adapter_config.json")

_RUN = re.compile(r"run:([1-9][0-9]{0,17})")
_HUB = re.compile(r"hub:([A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?)")
_SHOWN = 80


@dataclass(frozen=True)
class ModelChoice:
    reference: str
    label: str
    group: str


# --- where base models come from ----------------------------------------------------------------


def model_roots() -> dict[str, Path]:
    """ARBITER_MODEL_ROOTS by name (each folder's own name). A root may not overlap the storage
    root: runs are chosen as runs of a project, never as folders anyone could name."""
    storage = storage_root().resolve()
    roots: dict[str, Path] = {}
    for entry in settings.ARBITER_MODEL_ROOTS:
        path = Path(entry).expanduser()
        real = path.resolve()
        if real == storage or storage in real.parents or real in storage.parents:
            raise ImproperlyConfigured(
                f"ARBITER_MODEL_ROOTS entry {entry} overlaps the storage root, where every "
                "project's runs are kept; make a folder of its own for base models."
            )
        if path.name in roots:
            raise ImproperlyConfigured(
                f"Two ARBITER_MODEL_ROOTS folders are named {path.name!r}; models are named by "
                "their root's folder name, so each needs a name of its own."
            )
        roots[path.name] = path
    return roots


@checks.register("arbiter")
def model_roots_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check` (and every start) says what is wrong with ARBITER_MODEL_ROOTS, rather
    than the first page that offers models."""
    try:
        roots = model_roots()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="arbiter.E101")]
    return [
        checks.Warning(
            f"ARBITER_MODEL_ROOTS folder {root} is not a folder here; it offers no models.",
            id="arbiter.W101",
        )
        for root in roots.values()
        if not root.is_dir()
    ]


def _holds_model(folder: Path, files: tuple[str, ...]) -> bool:
    return any((folder / name).is_file() for name in files)


def _within(path: Path, root: Path) -> bool:
    return root in path.parents


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(
            child for child in folder.iterdir() if child.is_dir() and not child.name.startswith(".")
        )
    except OSError:
        return []


def _base_models(files: tuple[str, ...]) -> list[ModelChoice]:
    choices = []
    for name, root in model_roots().items():
        real_root = root.resolve()
        for child in _subfolders(root):
            candidates = [child] if _holds_model(child, files) else _subfolders(child)
            for folder in candidates:
                if _within(folder.resolve(), real_root) and _holds_model(folder, files):
                    relative = folder.relative_to(root).as_posix()
                    reference = f"{name}/{relative}"
                    choices.append(ModelChoice(f"base:{reference}", reference, BASE_GROUP))
    return choices


def _base_folder(rest: str, files: tuple[str, ...]) -> Path | None:
    """The real folder `base:<rest>` names, if it is a model inside its root; else None."""
    parts = rest.split("/")
    if not 2 <= len(parts) <= 3 or not all(_plain_name(part) for part in parts):
        return None
    root = model_roots().get(parts[0])
    if root is None:
        return None
    real_root = root.resolve()
    folder = root.joinpath(*parts[1:]).resolve()  # a symlink out of the root ends up outside it
    if not _within(folder, real_root) or not folder.is_dir() or not _holds_model(folder, files):
        return None
    return folder


def _plain_name(part: str) -> bool:
    return (
        bool(part)
        and part not in (".", "..")
        and not part.startswith(".")
        and all(ch.isprintable() and ch not in "\\/:" for ch in part)
    )


def _hub_cache() -> Path | None:
    value = settings.ARBITER_MODEL_HUB_CACHE
    if value == "off":
        return None
    if value:
        return Path(value).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _hub_snapshots(files: tuple[str, ...]) -> dict[str, Path]:
    """Model id -> the snapshot folder to load (the `main` ref's, else the newest), for the
    cached models whose snapshot holds a model."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache = _hub_cache()
    if cache is None or not cache.is_dir():
        return {}
    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return {}
    found = {}
    for repo in sorted(info.repos, key=lambda repo: repo.repo_id):
        if repo.repo_type != "model":
            continue
        revisions = sorted(
            repo.revisions, key=lambda rev: ("main" in rev.refs, rev.last_modified), reverse=True
        )
        for revision in revisions:
            if _holds_model(revision.snapshot_path, files):
                found[repo.repo_id] = revision.snapshot_path
                break
    return found


# --- runs ---------------------------------------------------------------------------------------


def projects_administered_by(*, user: User):
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    return projects


def _runs(*, projects, family: str):
    return TrainingRun.objects.filter(
        project__in=projects, family=family, status=RunStatus.SUCCEEDED
    ).select_related("project")


# --- what forms offer ---------------------------------------------------------------------------


def run_choices(
    *, projects, family: str, group: str = RUN_GROUP, name_project: bool = False
) -> list[ModelChoice]:
    """The succeeded `family` runs of `projects`, as choices (`name_project`: each label says
    which project the run is of, where the runs come from several)."""
    return [
        ModelChoice(
            f"run:{run.pk}",
            f"Run {run.pk}: {run.name} ({run.objective})"
            + (f" · {run.project.name}" if name_project else ""),
            group,
        )
        for run in _runs(projects=projects, family=family)
    ]


def available_models(*, adapters: bool = False) -> list[ModelChoice]:
    """The operator's base models, then the cached ones: offered to every project.
    `adapters`: LoRA adapter folders count too (the generation loader takes them)."""
    files = MODEL_OR_ADAPTER_FILES if adapters else MODEL_FILES
    return _base_models(files) + [
        ModelChoice(f"hub:{model_id}", model_id, HUB_GROUP) for model_id in _hub_snapshots(files)
    ]


def model_choices(*, project: Project, family: str, adapters: bool = False) -> list[ModelChoice]:
    """The models `project` may use where a model of `family` ("reward" or "policy") is wanted:
    its succeeded runs of that family, then the operator's base models, then the cached ones."""
    return run_choices(projects=[project], family=family) + available_models(adapters=adapters)


def grouped(choices: list[ModelChoice], *, empty: str | None = None) -> list:
    """Django form choices, grouped: [("", empty)?, (group, [(reference, label), ...]), ...]."""
    groups: dict[str, list] = {}
    for choice in choices:
        groups.setdefault(choice.group, []).append((choice.reference, choice.label))
    return ([("", empty)] if empty is not None else []) + list(groups.items())


# --- checking and resolving references ----------------------------------------------------------


def _not_available(what: str, reference: Any) -> ApplicationError:
    shown = str(reference)
    shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
    return ApplicationError(
        f"{what[:1].upper()}{what[1:]} {shown!r} is not one of the models this project may use. "
        "Choose one of the offered models: run:<id> (a run of this project), "
        "base:<root>/<folder> (a base model the operator made available) or hub:<org>/<name> "
        "(a model in the local cache). Paths are not accepted."
    )


def model_reference_path(
    *,
    reference: Any,
    project: Project,
    family: str,
    what: str = "the model",
    adapters: bool = False,
    run_projects=None,
) -> str:
    """The folder to load for `reference`, checked: a succeeded `family` run of `project` (or of
    `run_projects`, when given), a model folder inside an operator's root, or a cached model.
    Raises ApplicationError, with the same message for a path that exists and one that doesn't."""
    files = MODEL_OR_ADAPTER_FILES if adapters else MODEL_FILES
    if not isinstance(reference, str):
        raise _not_available(what, reference)
    reference = reference.strip()
    if match := _RUN.fullmatch(reference):
        run = (
            _runs(projects=[project] if run_projects is None else run_projects, family=family)
            .filter(pk=int(match[1]))
            .first()
        )
        if run is None:
            scope = "this project" if run_projects is None else "a project you administer"
            raise ApplicationError(
                f"{what[:1].upper()}{what[1:]} {reference!r} is not a succeeded {family} run of "
                f"{scope}."
            )
        folder = run_model_dir(run)
        if not _holds_model(folder, files):
            raise ApplicationError(f"The trained model of run {run.pk} is missing from storage.")
        return str(folder)
    if reference.startswith("base:"):
        folder = _base_folder(reference.removeprefix("base:"), files)
        if folder is not None:
            return str(folder)
    elif match := _HUB.fullmatch(reference):
        snapshot = _hub_snapshots(files).get(match[1])
        if snapshot is not None:
            return str(snapshot)
    raise _not_available(what, reference)


def referenced_run_ids(references) -> set[int]:
    """The ids of the runs among `references` that name one (run:<id>); anything else is skipped."""
    return {
        int(match[1])
        for reference in references
        if isinstance(reference, str) and (match := _RUN.fullmatch(reference.strip()))
    }


def model_reference_check(
    *,
    reference: Any,
    project: Project,
    family: str,
    what: str = "the model",
    adapters: bool = False,
    run_projects=None,
) -> str:
    """The reference, trimmed, when it names a model `project` may use (see model_reference_path);
    what services store."""
    model_reference_path(
        reference=reference,
        project=project,
        family=family,
        what=what,
        adapters=adapters,
        run_projects=run_projects,
    )
    return reference.strip()


# --- at execution time --------------------------------------------------------------------------

# The trainer config keys that name models, and the run family each must come from (None: the
# run's own family, e.g. a policy continues from a policy).
TRAINER_MODEL_KEYS = {
    "model": (None, "the base model"),
    "reward_model": ("reward", "the reward model"),
    "judge_reward_model": ("reward", "the judging reward model"),
    "heldout_judge_reward_model": ("reward", "the held-out judge"),
}
# Keys holding a list of models (the online objectives' reward models).
TRAINER_MODEL_LIST_KEYS = {
    "reward_models": ("reward", "a training reward model"),
}


def policy_start_projects(*, project: Project, user: User | None):
    """The projects whose succeeded policy runs a policy run of `project` may start from: the
    project itself and, when `user` launches it, every project they administer (so the SFT run
    of a demonstration project can warm-start a pairwise project's DPO run). None: the project
    alone."""
    if user is None:
        return None
    administered = projects_administered_by(user=user).values("pk")
    return Project.objects.filter(Q(pk=project.pk) | Q(pk__in=administered))


def trainer_config_check(
    *, project: Project, family: str, config: dict, user: User | None = None
) -> dict:
    """The config with every model key holding a checked reference (see TRAINER_MODEL_KEYS).
    A policy run's base model may be a policy run of any project `user` administers."""
    config = dict(config)
    for key, (key_family, what) in TRAINER_MODEL_KEYS.items():
        if config.get(key) not in (None, ""):
            starts_policy = key == "model" and (key_family or family) == "policy"
            config[key] = model_reference_check(
                reference=config[key],
                project=project,
                family=key_family or family,
                what=what,
                run_projects=policy_start_projects(project=project, user=user)
                if starts_policy
                else None,
            )
    for key, (key_family, what) in TRAINER_MODEL_LIST_KEYS.items():
        if key in config:
            if not isinstance(config[key], list):
                raise ApplicationError(f"{key} must be a list of model references.")
            config[key] = [
                model_reference_check(
                    reference=reference, project=project, family=key_family, what=what
                )
                for reference in config[key]
            ]
    return config


def trainer_config_resolve(*, run: TrainingRun) -> dict:
    """The run's trainer config with its model references turned into folders, for train():
    checked again here, on the worker, just before loading. A model no longer available raises
    the trainer's ModelLoadError, so the run fails with the reason as for any unloadable model."""
    from trainer.errors import ModelLoadError

    config = dict(run.config)
    for key, (key_family, what) in TRAINER_MODEL_KEYS.items():
        if config.get(key) not in (None, ""):
            starts_policy = key == "model" and (key_family or run.family) == "policy"
            try:
                config[key] = model_reference_path(
                    reference=config[key],
                    project=run.project,
                    family=key_family or run.family,
                    what=what,
                    # Checked again against what the run's launcher administers now.
                    run_projects=policy_start_projects(project=run.project, user=run.created_by)
                    if starts_policy
                    else None,
                )
            except ApplicationError as exc:
                raise ModelLoadError(exc.message) from None
    for key, (key_family, what) in TRAINER_MODEL_LIST_KEYS.items():
        try:
            config[key] = [
                model_reference_path(
                    reference=reference, project=run.project, family=key_family, what=what
                )
                for reference in config.get(key) or []
            ]
        except ApplicationError as exc:
            raise ModelLoadError(exc.message) from None
        if not config[key]:
            config.pop(key)
    return config


def backend_config_resolve(*, config: dict, project: Project, run_projects=None) -> dict:
    """A generation backend config with a local model's reference turned into its folder (an
    endpoint's model name is left as it is)."""
    if config.get("type") != "transformers":
        return config
    folder = model_reference_path(
        reference=config.get("model"),
        project=project,
        family="policy",
        what="the local model",
        adapters=True,
        run_projects=run_projects,
    )
    return {**config, "model": folder}


# --- rows written before references -------------------------------------------------------------


def reference_for_legacy_path(*, path: Any, project: Project, family: str) -> str | None:
    """The reference naming what a path stored before references named: a succeeded `family` run
    of `project` (by its model folder), a model folder inside a model root, or a cached model id.
    None for anything else (another project's run, a folder outside the roots), which stays
    refused."""
    if not isinstance(path, str) or not path.strip():
        return None
    path = path.strip()
    if _RUN.fullmatch(path) or path.startswith(("base:", "hub:")):
        return None  # already a reference
    if not path.startswith(("/", ".", "~")) and _HUB.fullmatch(f"hub:{path}"):
        if path in _hub_snapshots(MODEL_OR_ADAPTER_FILES):
            return f"hub:{path}"
        return None
    real = Path(path).expanduser().resolve()
    storage = storage_root().resolve()
    if _within(real, storage):
        parts = real.relative_to(storage).parts
        if len(parts) == 4 and parts[0] == "runs" and parts[2:] == ("output", "model"):
            run = _runs(projects=[project], family=family).filter(output_dir=f"runs/{parts[1]}")
            run = run.first()
            return f"run:{run.pk}" if run is not None else None
        return None
    for name, root in model_roots().items():
        real_root = root.resolve()
        if _within(real, real_root):
            reference = f"base:{name}/{real.relative_to(real_root).as_posix()}"
            if _base_folder(reference.removeprefix("base:"), MODEL_OR_ADAPTER_FILES) == real:
                return reference
    return None
