import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.autopilot.champions import champion_promote, champion_rollback
from apps.autopilot.models import Champion, Family, TrainingRule
from apps.autopilot.selectors import decisions_for_project, loop_timeline, rule_progress_all
from apps.autopilot.services import training_rule_create, training_rule_update
from apps.core.errors import ApplicationError
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.training.services import objectives_for_project


def _number(value: str, cast=int):
    return cast(value) if value not in ("", None) else None


def _rule_values(post) -> dict:
    try:
        config = json.loads(post.get("config") or "{}")
    except json.JSONDecodeError as exc:
        raise ApplicationError(f"The config is not JSON: {exc.msg}.") from None
    if not isinstance(config, dict):
        raise ApplicationError("The config is a JSON object.")
    try:
        return {
            "name": post.get("name", "").strip(),
            "objective": post.get("objective", ""),
            "config": config,
            "every_labels": _number(post.get("every_labels")),
            "cron": post.get("cron", "").strip(),
            "min_alpha": _number(post.get("min_alpha"), float),
            "min_gold_accuracy": _number(post.get("min_gold_accuracy"), float),
            "cooldown_minutes": _number(post.get("cooldown_minutes")) or 0,
            "max_runs_per_day": _number(post.get("max_runs_per_day")) or 0,
        }
    except ValueError:
        raise ApplicationError("Numbers only in the trigger and guard fields.") from None


def _act(request, project) -> str:
    action = request.POST.get("action")
    if action == "create":
        rule = training_rule_create(
            project=project, user=request.user, **_rule_values(request.POST)
        )
        return f"Rule “{rule.name}” added."
    if action == "toggle":
        rule = TrainingRule.objects.filter(
            project=project, pk=_number(request.POST.get("rule"))
        ).first()
        if rule is None:
            raise ApplicationError("No such rule.")
        rule = training_rule_update(rule=rule, enabled=not rule.enabled)
        return f"Rule “{rule.name}” switched {'on' if rule.enabled else 'off'}."
    if action == "promote":
        decision = champion_promote(
            project=project, run_id=_number(request.POST.get("run")) or 0, actor=request.user
        )
        return f"Run {decision.run_id} now serves."
    if action == "rollback":
        decision = champion_rollback(
            project=project, family=request.POST.get("family", ""), actor=request.user
        )
        return f"Run {decision.run_id} serves again."
    raise ApplicationError("Unknown action.")


@login_required
def autopilot_home(request: HttpRequest, project_id: int) -> HttpResponse:
    """The loop at a glance: rules and their progress, the champions, and the timeline."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    error = ""
    if request.method == "POST":
        try:
            messages.success(request, _act(request, project))
        except (ApplicationError, ValueError) as exc:
            error = getattr(exc, "message", str(exc))
        else:
            return redirect("autopilot:home", project_id=project.pk)
    champions = {
        c.family: c.run for c in Champion.objects.filter(project=project).select_related("run")
    }
    context = {
        "project": project,
        "progress": rule_progress_all(project=project),
        "champions": [
            (family.label, family.value, champions.get(family.value)) for family in Family
        ],
        "decisions": decisions_for_project(project=project)[:20],
        "timeline": loop_timeline(project=project),
        "objectives": objectives_for_project(project=project),
        "error": error,
        "form": request.POST if error else {},
    }
    template = "autopilot/_loop.html" if request.htmx else "autopilot/home.html"
    return render(request, template, context)
