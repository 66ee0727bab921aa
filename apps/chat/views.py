"""Chat pages: a project's conversations, one conversation (its transcript swapped by htmx after
each message, retry or reaction; a reply in the works polled until a worker finishes it), and the
admins' backend settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.chat.forms import BackendForm
from apps.chat.selectors import (
    REACTION_CHOICES,
    chat_project_get_for_user,
    conversation_get_for_user,
    conversation_view,
    conversations_for_user,
    message_get_for_user,
    message_with_reaction,
    reaction_counts,
    reply_is_stale,
)
from apps.chat.services import (
    chat_backend_configure,
    conversation_start,
    message_retry,
    message_send,
    reaction_set,
)
from apps.core.errors import ApplicationError
from apps.generation.backends import BackendConfigError, redact_config, validate_config
from apps.generation.endpoints import display_backend_config
from apps.projects.models import Role
from apps.projects.selectors import user_is_project_admin


@login_required
def chat_home(request: HttpRequest, project_id: int) -> HttpResponse:
    project = chat_project_get_for_user(user=request.user, project_id=project_id)
    try:
        validate_config(project.generation_backend)
        backend_problem = ""
    except BackendConfigError as exc:
        backend_problem = str(exc)
    context = {
        "project": project,
        "conversations": conversations_for_user(user=request.user, project=project),
        "backend_problem": backend_problem,
        "is_admin": user_is_project_admin(user=request.user, project=project),
    }
    return render(request, "chat/home.html", context)


@login_required
@require_POST
def conversation_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = chat_project_get_for_user(user=request.user, project_id=project_id)
    try:
        conversation = conversation_start(user=request.user, project=project)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("chat:home", project_id=project.pk)
    return redirect("chat:conversation", conversation_id=conversation.pk)


def _render_chat(
    request: HttpRequest, conversation, *, error: str = "", draft: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "view": conversation_view(conversation=conversation, user=request.user),
        "project": conversation.project,
        "reactions": REACTION_CHOICES,
        "error": error,
        "draft": draft,
    }
    template = "chat/_chat.html" if request.htmx else "chat/conversation.html"
    return render(request, template, context, status=status)


def _error_status(exc: ApplicationError) -> int:
    return 422 if exc.status == 400 else exc.status


@login_required
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    return _render_chat(request, conversation)


@login_required
@require_POST
def send(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    draft = request.POST.get("content", "")
    try:
        message_send(user=request.user, conversation_id=conversation.pk, content=draft)
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("chat:conversation", conversation_id=conversation.pk)
        return _render_chat(
            request, conversation, error=exc.message, draft=draft, status=_error_status(exc)
        )
    if not request.htmx:
        return redirect("chat:conversation", conversation_id=conversation.pk)
    return _render_chat(request, conversation)


@login_required
@require_POST
def retry(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    try:
        message_retry(user=request.user, conversation_id=conversation.pk)
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("chat:conversation", conversation_id=conversation.pk)
        return _render_chat(request, conversation, error=exc.message, status=_error_status(exc))
    if not request.htmx:
        return redirect("chat:conversation", conversation_id=conversation.pk)
    return _render_chat(request, conversation)


@login_required
def reply_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    """One reply, polled by the page while a worker writes it (htmx); the page otherwise."""
    message = message_get_for_user(user=request.user, message_id=message_id)
    if not request.htmx:
        return redirect("chat:conversation", conversation_id=message.conversation_id)
    context = {
        "m": message_with_reaction(message=message, user=request.user),
        "reactions": REACTION_CHOICES,
        "stalled": reply_is_stale(message),
    }
    return render(request, "chat/_reply.html", context)


@login_required
@require_POST
def react(request: HttpRequest, message_id: int) -> HttpResponse:
    """Sets the reaction the clicked button names; the pressed button sends "" (remove)."""
    message = message_get_for_user(user=request.user, message_id=message_id)
    error = ""
    status = 200
    try:
        reaction_set(user=request.user, message_id=message.pk, kind=request.POST.get("kind", ""))
    except ApplicationError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
        error, status = exc.message, _error_status(exc)
    if not request.htmx:
        return redirect("chat:conversation", conversation_id=message.conversation_id)
    context = {
        "m": message_with_reaction(message=message, user=request.user),
        "reactions": REACTION_CHOICES,
        "error": error,
    }
    return render(request, "chat/_reactions.html", context, status=status)


@login_required
def chat_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project = chat_project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    # The endpoint's URL and whether it has a key, never the key itself.
    current = display_backend_config(project.generation_backend, project_id=project.pk)
    form = BackendForm(request.POST or None, current=current, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            chat_backend_configure(project=project, actor=request.user, config=form.config)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The chat backend is saved."))
            return redirect("chat:settings", project_id=project.pk)
    context = {
        "project": project,
        "form": form,
        "current": redact_config(current),
        "has_api_key": bool(current.get("has_api_key")),
        "counts": [
            (choice, n)
            for choice, n in zip(
                REACTION_CHOICES, reaction_counts(project=project).values(), strict=True
            )
        ],
    }
    status = 422 if request.method == "POST" else 200  # refused: the form and its reasons
    return render(request, "chat/settings.html", context, status=status)
