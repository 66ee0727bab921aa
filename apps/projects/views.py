from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.projects.forms import MemberForm, PrincipleForm, ProjectForm, RubricItemForm
from apps.projects.models import Project, Role
from apps.projects.selectors import (
    principle_library,
    project_get_for_user,
    project_summary,
    projects_for_user,
    user_is_project_admin,
)
from apps.projects.services import (
    membership_set,
    principle_retire,
    principle_save,
    project_create,
    project_update,
    rubric_item_add,
    rubric_item_set_active,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("projects:list")


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = projects_for_user(user=request.user).order_by("-created_at")
    return render(request, "projects/list.html", {"projects": projects})


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_staff or request.user.is_superuser):
        raise PermissionDenied
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(creator=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/new.html", {"form": form})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id)
    is_admin = user_is_project_admin(user=request.user, project=project)
    context = {"project": project, "is_admin": is_admin, "member_form": MemberForm()}
    if is_admin:
        context["summary"] = project_summary(project=project)
    return render(request, "projects/detail.html", context)


@login_required
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = MemberForm(request.POST)
    if form.is_valid():
        user = User.objects.filter(username=form.cleaned_data["username"]).first()
        if user is None:
            messages.error(
                request,
                _("No account is named %(name)r.") % {"name": form.cleaned_data["username"]},
            )
        else:
            membership_set(project=project, user=user, role=form.cleaned_data["role"])
            messages.success(
                request,
                _("%(name)s is now %(role)s of this project.")
                % {"name": user.username, "role": form.cleaned_data["role"]},
            )
    return redirect("projects:detail", project_id=project.pk)


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            project_update(project=Project.objects.get(pk=project.pk), **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/settings.html", {"project": project, "form": form})


@login_required
def project_principles(request: HttpRequest, project_id: int) -> HttpResponse:
    """The principle library (versioned) and the rubric checklist."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    principle_form, rubric_form = PrincipleForm(), RubricItemForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "principle":
                principle_form = PrincipleForm(request.POST)
                if principle_form.is_valid():
                    saved = principle_save(project=project, **principle_form.cleaned_data)
                    messages.success(
                        request,
                        _("Saved %(key)s (version %(version)s).")
                        % {"key": saved.key, "version": saved.version},
                    )
                    return redirect("projects:principles", project_id=project.pk)
            elif action == "retire":
                principle_retire(project=project, key=request.POST.get("key", ""))
                return redirect("projects:principles", project_id=project.pk)
            elif action == "rubric":
                rubric_form = RubricItemForm(request.POST)
                if rubric_form.is_valid():
                    rubric_item_add(project=project, text=rubric_form.cleaned_data["text"])
                    return redirect("projects:principles", project_id=project.pk)
            elif action in ("rubric-on", "rubric-off"):
                rubric_item_set_active(
                    project=project,
                    item_id=int(request.POST.get("item", 0)),
                    active=action == "rubric-on",
                )
                return redirect("projects:principles", project_id=project.pk)
        except ApplicationError as exc:
            messages.error(request, exc.message)
    context = {
        "project": project,
        "library": principle_library(project=project),
        "rubric_items": project.rubric_items.all(),
        "principle_form": principle_form,
        "rubric_form": rubric_form,
    }
    return render(request, "projects/principles.html", context)
