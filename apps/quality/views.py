from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.quality.selectors import annotator_quality_table
from apps.quality.services import annotator_exclusion_set


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
    return redirect("quality:table", project_id=project.pk)
