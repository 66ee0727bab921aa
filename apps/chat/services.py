"""Chatting with the project's model and reacting to its replies.

The user's message is committed before the model is asked, and the model is asked outside any
transaction (a reply may take a minute; no row or SQLite write lock is held meanwhile). The reply
— or the reason there is none — is then stored as the assistant turn. A failed turn is retried in
place, so a finished transcript alternates user / assistant with no gaps.
"""

import logging

from django.db import transaction

from apps.accounts.models import User
from apps.chat.models import Conversation, Message, MessageRole, Reaction, ReactionKind
from apps.chat.selectors import conversation_get_for_user, message_get_for_user
from apps.core.errors import ApplicationError, Conflict, PermissionDenied
from apps.generation.backends import (
    BackendConfigError,
    GenerationError,
    backend_from_config,
    redact_config,
    validate_config,
)
from apps.projects.models import FeedbackKind, Project
from apps.projects.selectors import user_is_project_admin

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000


def chat_backend_configure(*, project: Project, actor: User, config: dict) -> Project:
    """Sets the project's generation backend after checking it. Admins of chat projects only.

    Conversations already open use the new backend from their next reply on; each reply stores
    the model that wrote it.
    """
    if project.kind != FeedbackKind.CHAT:
        raise ApplicationError("Only chat projects have a generation backend.")
    if not user_is_project_admin(user=actor, project=project):
        raise PermissionDenied("Only the project's admins may change its backend.")
    try:
        project.generation_backend = validate_config(config)
    except BackendConfigError as exc:
        raise ApplicationError(str(exc)) from None
    project.save(update_fields=["generation_backend"])
    return project


def conversation_start(*, user: User, project: Project) -> Conversation:
    """An empty conversation of the user's in a chat project with a usable backend: a new one,
    or their latest if it has no messages yet."""
    if project.kind != FeedbackKind.CHAT:
        raise ApplicationError("Only chat projects have conversations.")
    try:
        config = validate_config(project.generation_backend)
    except BackendConfigError as exc:
        raise ApplicationError(f"This project's chat backend is not set up yet: {exc}") from None
    backend = redact_config(config)
    # An untouched conversation is reused, so double clicks and abandoned starts don't pile up.
    empty = (
        Conversation.objects.filter(project=project, user=user, messages__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    if empty is not None:
        empty.backend = backend
        empty.save(update_fields=["backend"])
        return empty
    return Conversation.objects.create(project=project, user=user, backend=backend)


def message_send(*, user: User, conversation_id: int, content: str) -> Message:
    """Stores the user's message, asks the model, and returns the stored assistant turn (with
    `error` set if the model could not answer). 404 for a conversation that is not the user's;
    409 while the previous reply is missing or failed (retry that first)."""
    content = (content or "").strip()
    if not content:
        raise ApplicationError("Write a message first.")
    if len(content) > MAX_MESSAGE_CHARS:
        raise ApplicationError(f"A message may be at most {MAX_MESSAGE_CHARS:,} characters long.")
    with transaction.atomic():
        conversation = _conversation_locked(user=user, conversation_id=conversation_id)
        last = conversation.messages.order_by("-index").first()
        if last is not None and last.role == MessageRole.USER:
            raise Conflict("The model has not answered your last message yet; wait, or retry.")
        if last is not None and last.error:
            raise Conflict("The last reply failed; retry it before you write more.")
        mine = Message.objects.create(
            conversation=conversation,
            index=last.index + 1 if last else 0,
            role=MessageRole.USER,
            content=content,
        )
    return _reply(conversation=conversation, index=mine.index + 1)


def message_retry(*, user: User, conversation_id: int) -> Message:
    """Asks the model again for the conversation's missing or failed last reply."""
    with transaction.atomic():
        conversation = _conversation_locked(user=user, conversation_id=conversation_id)
        last = conversation.messages.order_by("-index").first()
        if last is None or (last.role == MessageRole.ASSISTANT and not last.error):
            raise Conflict("There is no failed reply to retry.")
    index = last.index if last.role == MessageRole.ASSISTANT else last.index + 1
    return _reply(conversation=conversation, index=index)


def reaction_set(*, user: User, message_id: int, kind: str) -> Reaction | None:
    """The user's one reaction to a reply: set, replaced by another kind, or removed (`kind=""`).

    404 for a message outside the user's own conversations (nothing is stored); 400 for a user
    message, a failed reply or an unknown kind.
    """
    if kind and kind not in ReactionKind.values:
        raise ApplicationError(f"Unknown reaction {kind!r}.")
    with transaction.atomic():
        message = message_get_for_user(user=user, message_id=message_id)
        # Lock the message so that two quick clicks replace rather than race on the unique row.
        Message.objects.select_for_update().filter(pk=message.pk).first()
        if message.role != MessageRole.ASSISTANT or message.error:
            raise ApplicationError("Only the model's replies take reactions.")
        if not kind:
            Reaction.objects.filter(message=message, user=user).delete()
            return None
        reaction, _ = Reaction.objects.update_or_create(
            message=message, user=user, defaults={"kind": kind}
        )
        return reaction


def _conversation_locked(*, user: User, conversation_id: int) -> Conversation:
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id)
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=conversation.pk)
    )


def _reply(*, conversation: Conversation, index: int) -> Message:
    """Generates the assistant turn at `index` from the turns before it, and stores it."""
    history = [
        {"role": m.role, "content": m.content}
        for m in conversation.messages.filter(index__lt=index, error="").order_by("index")
    ]
    # The project's backend now, not the one the conversation started with: an admin who fixes
    # a broken backend makes every failed reply retryable.
    config = Project.objects.values_list("generation_backend", flat=True).get(
        pk=conversation.project_id
    )
    content, error, model_name = "", "", ""
    try:
        with backend_from_config(config) as backend:
            model_name = backend.model_name
            content = backend.generate(history)[0]
    except BackendConfigError as exc:
        error = f"The project's chat backend is misconfigured: {exc}"
    except GenerationError as exc:
        error = exc.reason
    except Exception as exc:  # a bug in a backend must not lose the turn
        logger.exception("Generation failed in conversation %s", conversation.pk)
        error = f"The model failed unexpectedly ({type(exc).__name__})."
    return _store_reply(
        conversation=conversation, index=index, content=content, error=error, model_name=model_name
    )


@transaction.atomic
def _store_reply(
    *, conversation: Conversation, index: int, content: str, error: str, model_name: str
) -> Message:
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    existing = Message.objects.filter(conversation=conversation, index=index).first()
    if existing is not None and (existing.role != MessageRole.ASSISTANT or not existing.error):
        # A concurrent attempt answered first: keep it (it may already carry a reaction).
        return existing
    if existing is None:
        return Message.objects.create(
            conversation=conversation,
            index=index,
            role=MessageRole.ASSISTANT,
            content=content,
            error=error,
            model_name=model_name,
        )
    existing.content, existing.error, existing.model_name = content, error, model_name
    existing.save(update_fields=["content", "error", "model_name"])
    return existing
