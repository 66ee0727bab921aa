from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.chat.selectors import project_reactions
from apps.dashboard.filters import JudgmentFilter
from apps.dashboard.leaderboard import VOTE_KINDS, model_leaderboard, policy_win_rates
from apps.dashboard.selectors import people_model_disagreements, project_overview
from apps.projects.models import FeedbackKind, Role
from apps.projects.selectors import project_get_for_user
from apps.training.models import TrainingRun
from apps.training.selectors import held_out_table, run_curves
from apps.training.suggestions import champion_reward_run


def _admin_project(request: HttpRequest, project_id: int):
    return project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)


@login_required
def overview(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    data = project_overview(project=project)
    charts = {
        "perDay": data.per_day,
        "annotators": [
            {"name": a.membership.user.username, "judgments": a.judgments, "bias": a.position_bias}
            for a in data.annotators
            if a.judgments
        ],
    }
    return render(
        request, "dashboard/overview.html", {"project": project, "o": data, "charts": charts}
    )


@login_required
def judgments(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    query = request.GET.copy()
    query.pop("page", None)
    if project.kind == FeedbackKind.CHAT:
        # A chat's labels are its users' reactions to the replies, not judgments of tasks.
        page = Paginator(project_reactions(project=project), 50).get_page(request.GET.get("page"))
        context = {"project": project, "page": page, "query": query.urlencode()}
        return render(request, "dashboard/reactions.html", context)
    chosen = JudgmentFilter(request.GET, project=project)
    page = Paginator(chosen.queryset(), 50).get_page(request.GET.get("page"))
    context = {"project": project, "form": chosen.form, "page": page, "query": query.urlencode()}
    return render(request, "dashboard/judgments.html", context)


@login_required
def leaderboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    context = {
        "project": project,
        # Other kinds never hold a vote between two models: their page shows the policies only.
        "votes_apply": project.kind in VOTE_KINDS,
        "board": model_leaderboard(project=project) if project.kind in VOTE_KINDS else [],
        "policies": policy_win_rates(project=project),
    }
    return render(request, "dashboard/leaderboard.html", context)


@login_required
def compare_runs(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    ids = [int(i) for i in request.GET.getlist("runs") if i.isdigit()]
    runs = list(TrainingRun.objects.filter(project=project, pk__in=ids).order_by("pk"))
    curves = run_curves(run_ids=[r.pk for r in runs])
    series = {
        f"#{run.pk} {name}": points
        for run in runs
        for name, points in curves.get(run.pk, {}).items()
    }
    context = {
        "project": project,
        "runs": runs,
        "all_runs": TrainingRun.objects.filter(project=project).order_by("-pk")[:50],
        "curves": series,  # into the page through json_script only
        "series": ",".join(f"#{run.pk} loss" for run in runs),
        "held_out": held_out_table(project=project, runs=runs),
    }
    return render(request, "dashboard/compare.html", context)


@login_required
def disagreements(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    run = champion_reward_run(project=project)
    found = people_model_disagreements(project=project, run_id=run.pk) if run else []
    return render(
        request,
        "dashboard/disagreements.html",
        {"project": project, "run": run, "found": found[:200]},
    )
