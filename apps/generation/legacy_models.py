"""Rows written before models were chosen by reference held server paths: this turns each path
that names a model the project may use into its reference (apps/training/model_choices.py).
Paths that name anything else are left as they are; the worker refuses them with the reason."""

from dataclasses import dataclass, field

from django.db import transaction

from apps.generation.models import GenerationJob, Round
from apps.projects.models import Project
from apps.training.model_choices import TRAINER_MODEL_KEYS, reference_for_legacy_path
from apps.training.models import TrainingRun


@dataclass
class LegacyModelReport:
    converted: int = 0
    refused: list[str] = field(default_factory=list)  # "<row>: <what it held>", left as they are


def _convert(value, *, project, family, where: str, report: LegacyModelReport):
    reference = reference_for_legacy_path(path=value, project=project, family=family)
    if reference is not None:
        report.converted += 1
        return reference
    if isinstance(value, str) and not value.startswith(("run:", "base:", "hub:")):
        report.refused.append(f"{where}: {value}")
    return value


@transaction.atomic
def legacy_model_paths_convert(*, dry_run: bool = False) -> LegacyModelReport:
    """Rewrites the model paths of training runs, generation jobs, rounds and chat projects as
    references, where they name a model of the row's project; idempotent."""
    report = LegacyModelReport()
    for run in TrainingRun.objects.select_related("project").select_for_update(of=("self",)):
        config = dict(run.config or {})
        for key, (key_family, _) in TRAINER_MODEL_KEYS.items():
            if config.get(key):
                config[key] = _convert(
                    config[key],
                    project=run.project,
                    family=key_family or run.family,
                    where=f"run {run.pk} {key}",
                    report=report,
                )
        if config != run.config and not dry_run:
            TrainingRun.objects.filter(pk=run.pk).update(config=config)
    for job in GenerationJob.objects.select_related("project").select_for_update(of=("self",)):
        entries = []
        for entry in job.backends or []:
            config = dict(entry.get("config") or {})
            if config.get("type") == "transformers":
                if entry.get("training_run"):
                    model = f"run:{entry['training_run']}"
                    report.converted += config.get("model") != model
                    config["model"] = model
                else:
                    config["model"] = _convert(
                        config.get("model"),
                        project=job.project,
                        family="policy",
                        where=f"generation job {job.pk}",
                        report=report,
                    )
            entries.append({**entry, "config": config})
        if entries != job.backends and not dry_run:
            GenerationJob.objects.filter(pk=job.pk).update(backends=entries)
    for round_ in Round.objects.select_related("project").select_for_update(of=("self",)):
        if round_.base_model:
            base = _convert(
                round_.base_model,
                project=round_.project,
                family="policy",
                where=f"round {round_.pk}",
                report=report,
            )
            if base != round_.base_model and not dry_run:
                Round.objects.filter(pk=round_.pk).update(base_model=base)
    for project in Project.objects.select_for_update().exclude(generation_backend={}):
        config = dict(project.generation_backend or {})
        if config.get("type") == "transformers":
            config["model"] = _convert(
                config.get("model"),
                project=project,
                family="policy",
                where=f"chat project {project.pk}",
                report=report,
            )
            if config != project.generation_backend and not dry_run:
                Project.objects.filter(pk=project.pk).update(generation_backend=config)
    return report
