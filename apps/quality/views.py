from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.quality.selectors import annotator_quality_table, task_review
from apps.quality.services import annotator_exclusion_set, judgment_exclusion_set


@login_required
def quality_table(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    return render(
        request,
        "quality/table.html",
        {"project": project, "report": annotator_quality_table(project=project)},
    )


@login_required
@require_POST
def annotator_exclusion(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    annotator_exclusion_set(
        project=project,
        annotator_id=user_id,
        excluded=request.POST.get("excluded") == "1",
        by=request.user,
    )
    back = "dashboard:overview" if request.POST.get("next") == "dashboard" else "quality:table"
    return redirect(back, project_id=project.pk)


@login_required
def task_review_page(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    from apps.core.errors import ApplicationError
    from apps.training.suggestions import champion_reward_run, task_suggestions

    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    review = task_review(project=project, task_id=task_id)
    run, suggestions, suggestion_error = champion_reward_run(project=project), {}, ""
    if run is not None:
        try:
            suggestions = {s.position: s.score for s in task_suggestions(task=review.task, run=run)}
        except (ApplicationError, OSError, ValueError) as exc:
            suggestion_error = f"The reward model of run {run.pk} could not score this task: {exc}"
    context = {
        "project": project,
        "review": review,
        "letters": "ABCDEFGH",
        "run": run,
        "suggestions": suggestions,
        "suggestion_error": suggestion_error,
    }
    return render(request, "quality/task_review.html", context)


@login_required
@require_POST
def judgment_exclusion(request: HttpRequest, project_id: int, judgment_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    judgment = judgment_exclusion_set(
        project=project,
        judgment_id=judgment_id,
        excluded=request.POST.get("excluded") == "1",
        by=request.user,
    )
    return redirect("quality:task", project_id=project.pk, task_id=judgment.task_id)
