from collections import defaultdict

from django.http import Http404

from apps.accounts.models import User
from apps.projects.models import Role
from apps.projects.selectors import projects_for_user
from apps.training.models import FINISHED, RunMetric, TrainingRun


def run_get_for_admin(*, user: User, run_id: int) -> TrainingRun:
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    run = (
        TrainingRun.objects.filter(pk=run_id, project__in=projects)
        .select_related("project", "snapshot")
        .first()
    )
    if run is None:
        raise Http404("No such run.")
    return run


def runs_for_project(*, project) -> list[TrainingRun]:
    return list(
        TrainingRun.objects.filter(project=project).select_related("snapshot", "created_by")
    )


def any_active(runs: list[TrainingRun]) -> bool:
    return any(run.status not in FINISHED for run in runs)


def run_curves(*, run_ids: list[int]) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """run id -> metric name -> [(step, value)], in one query."""
    curves: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for run_id, name, step, value in RunMetric.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "name", "step", "value"
    ):
        curves[run_id][name].append((step, value))
    return {run_id: dict(by_name) for run_id, by_name in curves.items()}


def run_artifacts(*, run: TrainingRun, root) -> list[dict]:
    """The files of the trained model, for download."""
    model_dir = root / run.output_dir / "output"
    if not model_dir.is_dir():
        return []
    return [
        {"path": str(p.relative_to(model_dir)), "size": p.stat().st_size}
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and "checkpoint" not in p.relative_to(model_dir).parts[0]
    ]
