from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.imports.forms import ImportForm
from apps.imports.models import FileImport
from apps.imports.selectors import import_job_get_for_admin
from apps.imports.services import import_job_create
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user


@login_required
def import_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                project=project,
                user=request.user,
                upload=form.cleaned_data["file"],
                pair_strategy=form.cleaned_data["pair_strategy"] or None,
                max_pairs_per_prompt=form.cleaned_data["max_pairs_per_prompt"],
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("imports:detail", job_id=job.pk)
    return render(request, "imports/new.html", {"project": project, "form": form})


def render_import_status(
    request: HttpRequest, job: FileImport, *, poll_url: str, back_url: str, back_label: str
) -> HttpResponse:
    """The page of any file import, or (for htmx) just its status partial."""
    template = "imports/_status.html" if request.htmx else "imports/detail.html"
    context = {
        "job": job,
        "project": job.project,
        "poll_url": poll_url,
        "back_url": back_url,
        "back_label": back_label,
        "judgments": getattr(job, "judgments_created", None),
    }
    return render(request, template, context)


@login_required
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get_for_admin(user=request.user, job_id=job_id)
    return render_import_status(
        request,
        job,
        poll_url=reverse("imports:detail", args=[job.pk]),
        back_url=reverse("projects:detail", args=[job.project_id]),
        back_label=job.project.name,
    )
