"""Arena pages: a project's battles, and one battle (swapped whole by htmx after each message,
vote or reveal; while a worker writes a reply the battle polls itself until both are done).
The models' names reach the page only after the reveal."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.arena.selectors import battle_get_for_user, battle_view, battles_for_user
from apps.arena.services import (
    battle_reveal,
    battle_start,
    contestant_add,
    reply_retry,
    turn_send,
    turn_vote,
)
from apps.chat.forms import BackendForm
from apps.core.errors import ApplicationError
from apps.feedback.payloads import STRENGTHS
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user, user_is_project_admin


@login_required
@require_GET
def arena_home(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, project_id=project_id)
    context = {
        "project": project,
        "battles": battles_for_user(user=request.user, project=project),
        "contestants": project.arena_contestants.count(),
        "is_admin": user_is_project_admin(user=request.user, project=project),
    }
    return render(request, "arena/home.html", context)


@login_required
@require_POST
def battle_new(request: HttpRequest, project_id: int) -> HttpResponse:
    try:
        battle = battle_start(user=request.user, project_id=project_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("arena:home", project_id=project_id)
    return redirect("arena:battle", battle_id=battle.pk)


def _render(request, battle, *, error: str = "", draft: str = "", status: int = 200):
    context = {
        "view": battle_view(battle=battle),
        "project": battle.project,
        "strengths": STRENGTHS,
        "error": error,
        "draft": draft,
    }
    template = "arena/_battle.html" if request.htmx else "arena/battle.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def battle_detail(request: HttpRequest, battle_id: int) -> HttpResponse:
    return _render(request, battle_get_for_user(user=request.user, battle_id=battle_id))


def _act(request: HttpRequest, battle_id: int, action) -> HttpResponse:
    """Runs a battle action; a refusal is shown in place (htmx) or as a message."""
    battle = battle_get_for_user(user=request.user, battle_id=battle_id)
    draft = request.POST.get("content", "")
    try:
        action(battle)
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("arena:battle", battle_id=battle.pk)
        status = 422 if exc.status == 400 else exc.status
        return _render(request, battle, error=exc.message, draft=draft, status=status)
    if not request.htmx:
        return redirect("arena:battle", battle_id=battle.pk)
    battle.refresh_from_db()
    return _render(request, battle)


@login_required
@require_POST
def send(request: HttpRequest, battle_id: int) -> HttpResponse:
    return _act(
        request,
        battle_id,
        lambda b: turn_send(user=request.user, battle_id=b.pk, content=request.POST.get("content")),
    )


@login_required
@require_POST
def vote(request: HttpRequest, battle_id: int) -> HttpResponse:
    return _act(
        request,
        battle_id,
        lambda b: turn_vote(
            user=request.user,
            battle_id=b.pk,
            choice=request.POST.get("choice", ""),
            strength=request.POST.get("strength") or None,
            continue_with=request.POST.get("continue_with") or None,
        ),
    )


@login_required
@require_POST
def retry(request: HttpRequest, battle_id: int) -> HttpResponse:
    return _act(request, battle_id, lambda b: reply_retry(user=request.user, battle_id=b.pk))


@login_required
@require_POST
def reveal(request: HttpRequest, battle_id: int) -> HttpResponse:
    return _act(request, battle_id, lambda b: battle_reveal(user=request.user, battle_id=b.pk))


@login_required
def contestants(request: HttpRequest, project_id: int) -> HttpResponse:
    """The arena's models, and a form (the chat backend's fields) that adds one. Admins only."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    form = BackendForm(request.POST or None, current={}, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            contestant = contestant_add(project=project, actor=request.user, config=form.config)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(name)s is in the arena.") % {"name": contestant.name})
            return redirect("arena:contestants", project_id=project.pk)
    context = {"project": project, "form": form, "contestants": project.arena_contestants.all()}
    status = 422 if request.method == "POST" else 200
    return render(request, "arena/contestants.html", context, status=status)
