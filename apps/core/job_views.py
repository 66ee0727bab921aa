"""What every job page does when its admin cancels or resumes a job: one shape for all job kinds."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import ApplicationError


def job_action_response(
    request: HttpRequest,
    *,
    job_id: int,
    job_get: Callable[..., Any],
    action: Callable[..., Any],
    done: str,
    status_template: str,
    detail_url: str,
) -> HttpResponse:
    """Run `action(job=...)` on the admin's job and answer with its outcome.

    `job_get(user=, job_id=)` is the kind's admin-only selector (another user's id answers 404).
    A refused action (`ApplicationError`) changes nothing and its message is the answer's error.
    htmx: the status partial `status_template`, the job re-read and the error in it; otherwise
    a flash message (`done` or the error) and a redirect to `detail_url` for the job.
    """
    job = job_get(user=request.user, job_id=job_id)
    error = None
    try:
        action(job=job)
    except ApplicationError as exc:
        error = exc.message
    if request.htmx:
        job = job_get(user=request.user, job_id=job.pk)
        context = {"job": job, "project": job.project, "action_error": error}
        return render(request, status_template, context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(detail_url, job_id=job.pk)
