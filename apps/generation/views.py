import json
from functools import partial

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.core.job_views import job_action_response
from apps.generation.endpoints import display_backend_config
from apps.generation.forms import ConsequenceJobForm, GenerationJobForm
from apps.generation.selectors import (
    any_active,
    generation_job_get_for_admin,
    job_model_counts,
    jobs_for_project,
    policy_runs_for_user,
)
from apps.generation.services import (
    consequence_job_create,
    generation_job_cancel,
    generation_job_create,
    generation_job_resume,
)
from apps.projects.models import FeedbackKind, Role
from apps.projects.selectors import project_get_for_user

# Where a cancel or resume answers: the status partial for htmx, else the job's page.
_job_action = partial(
    job_action_response,
    job_get=generation_job_get_for_admin,
    status_template="generation/_status.html",
    detail_url="generation:detail",
)


@login_required
def job_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    jobs = jobs_for_project(project=project)
    context = {"project": project, "jobs": jobs, "polling": any_active(jobs)}
    template = "generation/_job_rows.html" if request.htmx else "generation/list.html"
    return render(request, template, context)


@login_required
def job_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = GenerationJobForm(
        request.POST or None, project=project, policy_runs=policy_runs_for_user(user=request.user)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = generation_job_create(
                project=project,
                user=request.user,
                backends=form.backend_specs(),
                n_per_prompt=data["n_per_prompt"],
                temperature=data["temperature"],
                top_p=data["top_p"],
                max_tokens=data["max_tokens"],
                batch_size=data["batch_size"],
                selection=data["selection"],
                prompt_ids=data["prompt_ids"],
                pair_strategy=data["pair_strategy"] or None,
                max_pairs_per_prompt=data["max_pairs_per_prompt"],
                pairing=data["pairing"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("generation:detail", job_id=job.pk)
    # A refused POST answers 422 with the form and its reasons; nothing was stored.
    status = 422 if request.method == "POST" else 200
    return render(request, "generation/new.html", {"project": project, "form": form}, status=status)


@login_required
def consequence_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = ConsequenceJobForm(
        request.POST or None, project=project, policy_runs=policy_runs_for_user(user=request.user)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = consequence_job_create(
                project=project,
                user=request.user,
                backend=form.backend_specs()[0],
                template=data["template"],
                target=data["target"],
                selection=data["selection"],
                prompt_ids=data["prompt_ids"],
                temperature=data["temperature"],
                top_p=data["top_p"],
                max_tokens=data["max_tokens"],
                batch_size=data["batch_size"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("generation:detail", job_id=job.pk)
    context = {
        "project": project,
        "form": form,
        "is_hindsight": project.kind == FeedbackKind.HINDSIGHT,
    }
    status = 422 if request.method == "POST" else 200  # refused: the form and its reasons
    return render(request, "generation/consequences_new.html", context, status=status)


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = generation_job_get_for_admin(user=request.user, job_id=job_id)
    context = {"job": job, "project": job.project}
    if request.htmx:
        return render(request, "generation/_status.html", context)
    context["model_counts"] = job_model_counts(job=job)
    context["backends_json"] = json.dumps(
        [
            {**entry, "config": display_backend_config(entry["config"], project_id=job.project_id)}
            for entry in job.backends
        ],
        indent=2,
    )
    return render(request, "generation/detail.html", context)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    return _job_action(
        request,
        job_id=job_id,
        action=generation_job_cancel,
        done=_("Cancel requested: the job stops after the batch in hand."),
    )


@login_required
@require_POST
def job_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    return _job_action(
        request,
        job_id=job_id,
        action=generation_job_resume,
        done=_("Queued again: the job skips what it already wrote."),
    )
