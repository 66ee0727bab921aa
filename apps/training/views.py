import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.training.forms import LaunchForm
from apps.training.selectors import (
    any_active,
    held_out_table,
    run_artifacts,
    run_calibration,
    run_curves,
    run_get_for_admin,
    run_hacking_watch,
    runs_for_project,
)
from apps.training.services import (
    objectives_for_project,
    policy_run_use_as_chat_backend,
    storage_root,
    training_run_cancel,
    training_run_launch,
)


@login_required
def run_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = LaunchForm(
        request.POST or None,
        project=project,
        objectives=objectives_for_project(project=project),
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            run = training_run_launch(
                project=project,
                user=request.user,
                objective=form.cleaned_data["objective"],
                config=form.trainer_config(),
                eval_share=form.cleaned_data["eval_share"],
                reward_run_id=form.cleaned_data["reward_run"].pk
                if form.cleaned_data["reward_run"]
                else None,
                name=form.cleaned_data["name"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("Run %(run)s is queued on the training queue.") % {"run": run.pk}
            )
            return redirect("training:detail", run_id=run.pk)
    runs = runs_for_project(project=project)
    context = {"project": project, "runs": runs, "form": form, "polling": any_active(runs)}
    template = "training/_run_rows.html" if request.htmx else "training/list.html"
    return render(request, template, context)


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_admin(user=request.user, run_id=run_id)
    if request.htmx:
        response = render(request, "training/_progress.html", {"run": run})
        if run.is_finished and request.GET.get("live"):
            response["HX-Refresh"] = "true"  # the run ended: show its evaluation and artifacts
        return response
    curves = run_curves(run_ids=[run.pk]).get(run.pk, {})
    context = {
        "run": run,
        "project": run.project,
        "curves": curves,  # into the page through json_script only
        "held_out": held_out_table(project=run.project, runs=[run]),
        # ECE and reliability diagram of a reward model, into the page through json_script only
        "calibration": run_calibration(run=run, root=storage_root()),
        "watch": run_hacking_watch(run=run),
        "config_json": json.dumps(run.config, indent=2, sort_keys=True),
        "log_lines": run.log_lines.order_by("-id")[:200][::-1],
        "artifacts": run_artifacts(run=run, root=storage_root()),
    }
    return render(request, "training/detail.html", context)


@login_required
def run_curves_json(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_admin(user=request.user, run_id=run_id)
    return JsonResponse(run_curves(run_ids=[run.pk]).get(run.pk, {}))


@login_required
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_admin(user=request.user, run_id=run_id)
    try:
        training_run_cancel(run=run)
        messages.success(request, _("Cancel requested; the run stops at its next step."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("training:detail", run_id=run.pk)


@login_required
def run_artifact(request: HttpRequest, run_id: int, path: str) -> FileResponse:
    run = run_get_for_admin(user=request.user, run_id=run_id)
    model_dir = (storage_root() / run.output_dir / "output").resolve()
    target = (model_dir / path).resolve()
    if not target.is_file() or model_dir not in target.parents:
        raise Http404("No such file.")
    return FileResponse(target.open("rb"), as_attachment=True, filename=target.name)


@login_required
@require_POST
def run_use_in_chat(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_admin(user=request.user, run_id=run_id)
    try:
        policy_run_use_as_chat_backend(run=run, user=request.user)
        messages.success(
            request, _("Run %(run)s's policy now answers in this project's chat.") % {"run": run.pk}
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("training:detail", run_id=run.pk)
