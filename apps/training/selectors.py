import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import Http404

from apps.accounts.models import User
from apps.projects.models import Principle, Project, Role
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


def run_calibration(*, run: TrainingRun, root) -> dict | None:
    """The reward model's held-out reliability diagram and ECE from the trainer's metrics.json, or None.

    Only the numbers go out ({ece, bins: [{lower, upper, count, mean_predicted, observed}]}); a missing or
    unreadable file (a run still going, a policy run) is simply no diagram.
    """
    path = root / run.output_dir / "output" / "metrics.json"
    try:
        calibration = json.loads(path.read_text(encoding="utf-8")).get("calibration")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(calibration, dict) or not isinstance(calibration.get("bins"), list):
        return None
    keys = ("lower", "upper", "count", "mean_predicted", "observed")
    bins = [
        {key: b.get(key) for key in keys if isinstance(b.get(key), int | float | None)}
        for b in calibration["bins"]
        if isinstance(b, dict)
    ]
    ece = calibration.get("ece")
    return {"ece": ece if isinstance(ece, int | float) else None, "bins": bins}


# Per-principle metrics name the principle version by id (trainer.reward.principle.principle_metric_key).
_PRINCIPLE_METRIC = re.compile(r"^(?P<head>.*)/principle-(?P<id>\d+)$")


_PLAIN_LABELS = {
    "ece": "expected calibration error (ECE)",
    "rows_prompt_truncated": "training rows whose prompt was cut (from the left)",
    "rows_response_truncated": "training rows whose response was cut (longer than max_length)",
    "rows_dropped": "training rows dropped (longer than max_length)",
}


def _plain_label(name: str) -> str:
    # Per-category accuracy is written by the trainer as "accuracy:<category>".
    if name.startswith("accuracy:"):
        return f"accuracy · {name.split(':', 1)[1]}"
    return _PLAIN_LABELS.get(name, name)


def metric_labels(*, project: Project, names: Iterable[str]) -> dict[str, str]:
    """metric name -> what to show for it: a per-principle metric shows its principle's key,
    version and text (looked up within the project; the template escapes it)."""
    names = list(names)
    matches = {name: _PRINCIPLE_METRIC.match(name) for name in names}
    ids = {int(m["id"]) for m in matches.values() if m}
    principles = Principle.objects.filter(project=project, pk__in=ids).in_bulk() if ids else {}
    labels = {}
    for name, match in matches.items():
        principle = principles.get(int(match["id"])) if match else None
        labels[name] = (
            f"{match['head']} · {principle.key} v{principle.version}: {principle.text}"
            if principle
            else _plain_label(name)
        )
    return labels


@dataclass(frozen=True)
class MetricRow:
    name: str
    label: str
    values: list  # one per run compared; None where a run lacks the metric


def held_out_table(*, project: Project, runs: list[TrainingRun]) -> list[MetricRow]:
    """The runs' held-out metrics side by side, one row per metric name, with display labels."""
    names = sorted({name for run in runs for name in run.metrics})
    labels = metric_labels(project=project, names=names)
    return [
        MetricRow(name=name, label=labels[name], values=[run.metrics.get(name) for run in runs])
        for name in names
    ]


@dataclass(frozen=True)
class HackingWatch:
    """A policy run's reward-hacking watch, from its held-out metrics (trainer.policy.evaluate):
    gains are the trained policy's mean score minus the base's on the same held-out prompts."""

    train_reward_gain: float
    heldout_judge_gain: float | None
    kl_to_base: float | None
    response_length: float | None
    response_length_base: float | None
    suspected: bool
    heldout_judge: str | None


def run_hacking_watch(*, run: TrainingRun) -> HackingWatch | None:
    """The watch of a finished policy run that measured it, else None."""
    metrics = run.metrics or {}
    if run.family != "policy" or "watch_train_reward_gain" not in metrics:
        return None
    return HackingWatch(
        train_reward_gain=metrics["watch_train_reward_gain"],
        heldout_judge_gain=metrics.get("watch_heldout_judge_gain"),
        kl_to_base=metrics.get("kl_to_reference"),
        response_length=metrics.get("response_length"),
        response_length_base=metrics.get("response_length_base"),
        suspected=bool(metrics.get("watch_hacking_suspected")),
        heldout_judge=(run.config or {}).get("heldout_judge_reward_model"),
    )
