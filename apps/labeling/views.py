"""The labeling page: one full page, and its task panel swapped in by htmx after each answer."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.feedback.payloads import STRENGTHS
from apps.feedback.rewrites import MAX_WRITTEN_CHARS
from apps.feedback.services import judgment_submit
from apps.labeling.forms import payload_from_post, written_from_post
from apps.labeling.selectors import (
    annotator_done_reason,
    annotator_progress,
    assignment_get_for_user,
    labeling_view,
)
from apps.labeling.services import assignment_skip, task_claim_next
from apps.projects.selectors import project_get_for_user


def _render_panel(
    request: HttpRequest, project, *, error: str = "", notice: str = "", status: int = 200
):
    try:
        assignment = task_claim_next(project=project, annotator=request.user)
    except ApplicationError as exc:  # excluded from the project: say so instead of "all done"
        assignment, error, status = None, exc.message, exc.status
    if assignment is None and not (error or notice):
        notice = annotator_done_reason(project=project, annotator=request.user)  # a quota?
    context = {
        "project": project,
        "view": labeling_view(assignment=assignment) if assignment else None,
        "progress": annotator_progress(project=project, annotator=request.user),
        "strengths": STRENGTHS,
        "max_written_chars": MAX_WRITTEN_CHARS,
        "error": error,
        "notice": notice,
    }
    template = "labeling/_panel.html" if request.htmx else "labeling/label.html"
    return render(request, template, context, status=status)


@login_required
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id)
    return _render_panel(request, project)


def _duration(request: HttpRequest) -> int | None:
    try:
        return int(float(request.POST["duration_ms"]))
    except (KeyError, ValueError):
        return None


@login_required
@require_POST
def submit(request: HttpRequest, project_id: int, assignment_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id)
    assignment = assignment_get_for_user(user=request.user, assignment_id=assignment_id)
    if assignment is None or assignment.project_id != project.pk:
        raise Http404("No such task lease.")
    try:
        payload = payload_from_post(
            post=request.POST, kind=project.kind, size=len(assignment.display_order)
        )
        written_response, edited_position = written_from_post(post=request.POST)
        result = judgment_submit(
            assignment_id=assignment_id,
            annotator=request.user,
            payload=payload,
            critique=request.POST.get("critique", ""),
            duration_ms=_duration(request),
            phase=request.POST.get("phase") or None,
            written_response=written_response,
            edited_position=edited_position,
        )
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("labeling:label", project_id=project.pk)
        return _render_panel(
            request, project, error=exc.message, status=exc.status if exc.status != 400 else 422
        )
    notice = "Saved." if result.created else "Already saved; nothing was counted twice."
    if result.created and result.judgment.phase == "foresight":
        notice = "Foresight saved. Now read what happened, and judge again."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("labeling:label", project_id=project.pk)
    return _render_panel(request, project, notice=notice)


@login_required
@require_POST
def skip(request: HttpRequest, project_id: int, assignment_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id)
    assignment = assignment_get_for_user(user=request.user, assignment_id=assignment_id)
    if assignment is None or assignment.project_id != project.pk:
        raise Http404("No such task lease.")
    try:
        assignment_skip(assignment_id=assignment_id, annotator=request.user)
    except ApplicationError as exc:
        return _render_panel(request, project, error=exc.message)
    if not request.htmx:
        return redirect("labeling:label", project_id=project.pk)
    return _render_panel(request, project, notice="Skipped.")
