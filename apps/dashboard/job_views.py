"""The project's jobs page: every background job of every kind, with retry and cancel.
Project admins only (anyone else gets 404, as for the dashboard)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.core.jobs import JobStatus, job_cancel, job_retry
from apps.dashboard.jobs import job_kind_names, job_rows, project_job_get, project_jobs
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user

PAGE_SIZE = 50


def _admin_project(request: HttpRequest, project_id: int):
    return project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)


def _filters(data) -> dict[str, str]:
    """The list's filters from a query string, unknown values dropped."""
    chosen = {}
    if data.get("status") in JobStatus.values:
        chosen["status"] = data["status"]
    if data.get("kind") in job_kind_names():
        chosen["kind"] = data["kind"]
    if str(data.get("page", "")).isdigit():
        chosen["page"] = data["page"]
    return chosen


def _render_jobs(request: HttpRequest, project, filters: dict, *, notice: str = ""):
    page = Paginator(
        project_jobs(project_id=project.pk, status=filters.get("status"), kind=filters.get("kind")),
        PAGE_SIZE,
    ).get_page(filters.get("page"))
    rows = job_rows(list(page.object_list))
    query = urlencode(filters)
    context = {
        "project": project,
        "page": page,
        "rows": rows,
        "filters": filters,
        "query": query,
        "statuses": JobStatus.choices,
        "kinds": job_kind_names(),
        "live": any(not row.is_finished for row in rows),
        "notice": notice,
        "self_url": reverse("dashboard:jobs", args=[project.pk]) + (f"?{query}" if query else ""),
    }
    template = "dashboard/_jobs_table.html" if request.htmx else "dashboard/jobs.html"
    return render(request, template, context)


@login_required
def jobs(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    return _render_jobs(request, project, _filters(request.GET))


def _act(request: HttpRequest, project_id: int, kind: str, job_id: int, action) -> HttpResponse:
    project = _admin_project(request, project_id)
    model, job = project_job_get(project_id=project.pk, kind=kind, job_id=job_id)
    name = f"{model._meta.verbose_name} {job.pk}".capitalize()
    try:
        notice, level = action(model, job, name), messages.SUCCESS
    except ApplicationError as exc:
        notice, level = f"{name}: {exc.message}", messages.ERROR
    filters = _filters(request.POST)
    if request.htmx:  # the table again, the outcome above it (htmx swaps only 2xx answers)
        return _render_jobs(request, project, filters, notice=notice)
    # Without JavaScript: back to the list (a real form post), the outcome as a message.
    messages.add_message(request, level, notice)
    url = reverse("dashboard:jobs", args=[project.pk])
    return redirect(f"{url}?{urlencode(filters)}" if filters else url)


def _retry(model, job, name: str) -> str:
    job_retry(model, job.pk)
    return f"{name} is queued again."


def _cancel(model, job, name: str) -> str:
    cancelled = job_cancel(model, job.pk)
    if cancelled.status == JobStatus.CANCELLED:
        return f"{name} is cancelled."
    return f"{name}: cancel requested; it stops at its next step."


@login_required
@require_POST
def job_retry_view(request: HttpRequest, project_id: int, kind: str, job_id: int):
    """Queues a failed or cancelled job again, with a new attempt budget."""
    return _act(request, project_id, kind, job_id, _retry)


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, project_id: int, kind: str, job_id: int):
    """Cancels a queued job at once; asks a running one to stop."""
    return _act(request, project_id, kind, job_id, _cancel)
