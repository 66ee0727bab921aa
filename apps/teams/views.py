"""The team page of a project (admins): invitations, members' groups, quotas and
qualification, assignment of tasks, and the work report; and the page that accepts an
invitation (anyone holding the link)."""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import ApplicationError
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.teams.forms import (
    AcceptForm,
    InvitationForm,
    MemberTermsForm,
    ReportForm,
    ShareForm,
    TaskAssignForm,
)
from apps.teams.selectors import (
    annotator_choices,
    group_task_counts,
    open_invitations,
    team_table,
    work_report,
    work_report_csv,
)
from apps.teams.services import (
    InvitationRefused,
    invitation_accept,
    invitation_create,
    invitation_for_link,
    invitation_revoke,
    invitation_send,
    member_terms_set,
    project_share_assign,
    qualification_reset,
    tasks_assign,
)

NEW_LINK_KEY = "teams:new-invitation-link"


def _admin_project(request: HttpRequest, project_id: int):
    return project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)


def _period(data) -> tuple[ReportForm, datetime | None, datetime | None]:
    today = timezone.localdate()
    form = ReportForm(data or {"start": today.replace(day=1), "end": today})
    if not form.is_valid():
        return form, None, None
    tz = timezone.get_current_timezone()
    start = datetime.combine(form.cleaned_data["start"], time.min, tzinfo=tz)
    end = datetime.combine(form.cleaned_data["end"] + timedelta(days=1), time.min, tzinfo=tz)
    return form, start, end


@never_cache  # the page that shows a new invitation link must not be kept by any cache
@login_required
@require_GET
def team(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    annotators = annotator_choices(project=project)
    report_form, start, end = _period(request.GET if "start" in request.GET else None)
    context = {
        "project": project,
        "rows": team_table(project=project),
        "groups": group_task_counts(project=project),
        "invitations": open_invitations(project=project),
        "new_link": request.session.pop(NEW_LINK_KEY, None),
        "invite_form": InvitationForm(),
        "share_form": ShareForm(annotators=annotators),
        "assign_form": TaskAssignForm(annotators=annotators),
        "report_form": report_form,
        "report": work_report(project=project, start=start, end=end) if start else None,
    }
    return render(request, "teams/team.html", context)


@login_required
@require_POST
def invitation_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Check the invitation: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return redirect("teams:team", project_id=project.pk)
    try:
        invitation, secret = invitation_create(
            project=project, by=request.user, **form.cleaned_data
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("teams:team", project_id=project.pk)
    link = request.build_absolute_uri(reverse("teams:accept", args=[secret]))
    invitation_send(invitation=invitation, link=link)
    request.session[NEW_LINK_KEY] = {"link": link, "email": invitation.email}
    return redirect("teams:team", project_id=project.pk)


@login_required
@require_POST
def invitation_delete(request: HttpRequest, project_id: int, invitation_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    invitation_revoke(project=project, invitation_id=invitation_id)
    messages.success(request, _("The invitation is withdrawn: its link no longer works."))
    return redirect("teams:team", project_id=project.pk)


@login_required
@require_POST
def member_terms(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    form = MemberTermsForm(request.POST)
    if form.is_valid():
        if request.POST.get("action") == "requalify":
            qualification_reset(project=project, user_id=user_id)
            messages.success(request, _("They take the qualification again."))
        else:
            member_terms_set(project=project, user_id=user_id, **form.cleaned_data)
            messages.success(request, _("Saved."))
    else:
        messages.error(request, form.errors.as_text())
    return redirect("teams:team", project_id=project.pk)


@login_required
@require_POST
def assign(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    annotators = annotator_choices(project=project)
    try:
        if request.POST.get("action") == "share":
            form = ShareForm(request.POST, annotators=annotators)
            if form.is_valid():
                n = project_share_assign(
                    project=project,
                    share=form.cleaned_data["percent"] / 100,
                    annotator_ids=form.cleaned_data["annotators"],
                    group=form.cleaned_data["group"],
                )
                messages.success(
                    request,
                    ngettext("%(n)d open task reserved.", "%(n)d open tasks reserved.", n)
                    % {"n": n},
                )
        else:
            form = TaskAssignForm(request.POST, annotators=annotators)
            if form.is_valid():
                n = tasks_assign(
                    project=project,
                    task_ids=form.cleaned_data["task_ids"],
                    annotator_id=form.cleaned_data["annotator"],
                    group=form.cleaned_data["group"],
                )
                messages.success(
                    request, ngettext("%(n)d task changed.", "%(n)d tasks changed.", n) % {"n": n}
                )
        if not form.is_valid():
            messages.error(request, form.errors.as_text())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("teams:team", project_id=project.pk)


@login_required
@require_GET
def report_csv(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _admin_project(request, project_id)
    form, start, end = _period(request.GET or None)  # no period given: this month so far
    if start is None:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    body = work_report_csv(project=project, start=start, end=end)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"work-report-project-{project.pk}-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@never_cache
def accept(request: HttpRequest, secret: str) -> HttpResponse:
    """Shows whose invitation this is; a POST accepts it, as the signed-in user or as a new
    account. A used, expired or unknown link is refused with the reason (410)."""
    try:
        invitation = invitation_for_link(secret=secret)
    except InvitationRefused as exc:
        return render(request, "teams/accept.html", {"refused": exc.message}, status=410)
    form = AcceptForm(request.POST or None) if not request.user.is_authenticated else None
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                user, membership = invitation_accept(secret=secret, user=request.user)
            elif form.is_valid():
                user, membership = invitation_accept(secret=secret, **form.cleaned_data)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                user = None
        except InvitationRefused as exc:
            return render(request, "teams/accept.html", {"refused": exc.message}, status=410)
        except ApplicationError as exc:
            if form is not None:
                form.add_error(None, exc.message)
            else:
                messages.error(request, exc.message)
            user = None
        if user is not None:
            messages.success(
                request,
                _("Welcome to %(project)s: you are %(role)s of it.")
                % {
                    "project": membership.project.name,
                    "role": membership.get_role_display().lower(),
                },
            )
            return redirect("projects:detail", project_id=membership.project_id)
    return render(request, "teams/accept.html", {"invitation": invitation, "form": form})
