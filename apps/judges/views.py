from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.core.job_views import job_action_response
from apps.generation.endpoints import display_backend_config
from apps.judges.forms import JudgeForm, JudgeRunForm, JudgeSettingsForm, PolicyEvalForm
from apps.judges.prompts import KINDS, template_for
from apps.judges.selectors import (
    calibration_report,
    judge_get_for_admin,
    judge_job_get_for_admin,
    judge_jobs_for_project,
    judge_position_bias,
    judges_for_project,
)
from apps.judges.services import (
    judge_create,
    judge_delete,
    judge_job_cancel,
    judge_job_create,
    judge_job_resume,
    judge_policy_eval_create,
    judge_update,
)
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user

# Where a cancel or resume answers: the status partial for htmx, else the job's page.
_job_action = partial(
    job_action_response,
    job_get=judge_job_get_for_admin,
    status_template="judges/_job_status.html",
    detail_url="judges:job",
)


@login_required
def judge_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = JudgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            judge = judge_create(
                project=project,
                user=request.user,
                name=data["name"],
                backend=data["backend"],
                config=form.backend_config(),
                prelabel=data["prelabel"],
                batch_size=data["batch_size"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("judges:detail", judge_id=judge.pk)
    context = {
        "project": project,
        "judges": judges_for_project(project=project),
        "jobs": judge_jobs_for_project(project=project)[:50],
        "form": form,
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "judges/list.html", context, status=status)


@login_required
def judge_detail(request: HttpRequest, judge_id: int) -> HttpResponse:
    judge = judge_get_for_admin(user=request.user, judge_id=judge_id)
    initial = {"prelabel": judge.prelabel, "batch_size": judge.batch_size}
    initial.update({f"template_{k}": template_for(judge.templates, k) for k in KINDS})
    form = JudgeSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            judge_update(
                judge=judge,
                user=request.user,
                templates=form.templates(),
                prelabel=form.cleaned_data["prelabel"],
                batch_size=form.cleaned_data["batch_size"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved; labels already written stay as they are."))
            return redirect("judges:detail", judge_id=judge.pk)
    context = {
        "project": judge.project,
        "judge": judge,
        "form": form,
        "template_fields": [form[f"template_{k}"] for k in KINDS],
        "config": display_backend_config(judge.config, project_id=judge.project_id),
        "bias": judge_position_bias(judge=judge),
        "jobs": judge.jobs.all()[:20],
        "run_form": JudgeRunForm(),
        "eval_form": PolicyEvalForm(runs=_policy_runs(judge)),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "judges/detail.html", context, status=status)


@login_required
@require_POST
def judge_run(request: HttpRequest, judge_id: int) -> HttpResponse:
    judge = judge_get_for_admin(user=request.user, judge_id=judge_id)
    form = JudgeRunForm(request.POST)
    form.is_valid()
    try:
        job = judge_job_create(
            judge=judge,
            user=request.user,
            only_unjudged=form.cleaned_data.get("only_unjudged", False),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("judges:detail", judge_id=judge.pk)
    return redirect("judges:job", job_id=job.pk)


def _policy_runs(judge):
    from apps.training.models import RunStatus, TrainingRun

    return TrainingRun.objects.filter(
        project=judge.project_id, family="policy", status=RunStatus.SUCCEEDED
    ).order_by("-pk")[:50]


@login_required
@require_POST
def judge_evaluate(request: HttpRequest, judge_id: int) -> HttpResponse:
    judge = judge_get_for_admin(user=request.user, judge_id=judge_id)
    form = PolicyEvalForm(request.POST, runs=_policy_runs(judge))
    if not form.is_valid():
        messages.error(request, _("Choose a succeeded policy run, a prompt count and max tokens."))
        return redirect("judges:detail", judge_id=judge.pk)
    try:
        job = judge_policy_eval_create(
            judge=judge,
            user=request.user,
            run_id=form.cleaned_data["run"],
            prompts=form.cleaned_data["prompts"],
            max_tokens=form.cleaned_data["max_tokens"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("judges:detail", judge_id=judge.pk)
    return redirect("judges:job", job_id=job.pk)


@login_required
@require_POST
def judge_remove(request: HttpRequest, judge_id: int) -> HttpResponse:
    judge = judge_get_for_admin(user=request.user, judge_id=judge_id)
    project_id = judge.project_id
    try:
        judge_delete(judge=judge, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("judges:detail", judge_id=judge.pk)
    messages.success(request, _("Judge and its labels deleted."))
    return redirect("judges:list", project_id=project_id)


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = judge_job_get_for_admin(user=request.user, job_id=job_id)
    context = {"job": job, "project": job.project}
    if request.htmx:
        return render(request, "judges/_job_status.html", context)
    return render(request, "judges/job.html", context)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    return _job_action(
        request,
        job_id=job_id,
        action=judge_job_cancel,
        done=_("Cancel requested: the job stops after the batch in hand."),
    )


@login_required
@require_POST
def job_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    return _job_action(
        request,
        job_id=job_id,
        action=judge_job_resume,
        done=_("Queued again: the job skips the tasks it already judged."),
    )


@login_required
@require_GET
def calibration(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    context = {"project": project, "reports": calibration_report(project=project)}
    return render(request, "judges/calibration.html", context)
