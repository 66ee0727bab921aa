"""The rounds page: start round k+1, train its reward model and policy, compare rounds."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.generation.rounds import (
    round_start,
    round_train_policy,
    round_train_reward_model,
    rounds_table,
)
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.training.model_choices import available_models, grouped
from apps.training.models import RunStatus, TrainingRun


class RoundForm(forms.Form):
    generating_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        help_text=_("Empty: the last round's policy."),
    )
    base_model = forms.ChoiceField(
        required=False,
        help_text=_("Round 1 (or a restart): a base model the operator made available."),
    )
    prompts = forms.IntegerField(
        min_value=1, max_value=10_000, initial=50, help_text=_("Fresh prompts in this round.")
    )
    n_per_prompt = forms.IntegerField(min_value=1, max_value=8, initial=2)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["generating_run"].queryset = TrainingRun.objects.filter(
            project=project, family="policy", status=RunStatus.SUCCEEDED
        )
        self.fields["base_model"].choices = grouped(available_models(), empty="—")


@login_required
def rounds_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = RoundForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            started = round_start(
                project=project,
                user=request.user,
                generating_run_id=data["generating_run"].pk if data["generating_run"] else None,
                base_model=data["base_model"],
                prompts=data["prompts"],
                n_per_prompt=data["n_per_prompt"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("Round %(number)s is generating.") % {"number": started.number}
            )
            return redirect("generation:rounds", project_id=project.pk)
    rows = rounds_table(project=project)
    return render(
        request, "generation/rounds.html", {"project": project, "rows": rows, "form": form}
    )


@login_required
@require_POST
def round_train(request: HttpRequest, project_id: int, number: int, what: str) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    round_ = project.rounds.filter(number=number).first()
    if round_ is None or what not in ("reward", "policy"):
        raise Http404("No such round.")
    try:
        if what == "reward":
            run = round_train_reward_model(round_=round_, user=request.user)
        else:
            run = round_train_policy(round_=round_, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("generation:rounds", project_id=project.pk)
    return redirect("training:detail", run_id=run.pk)
