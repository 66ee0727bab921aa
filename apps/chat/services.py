"""Chatting with the project's model and reacting to its replies.

Sending stores the user's message and a pending assistant turn, and a Celery worker asks the
model (`reply_generate`): a web request never waits for a model. The page follows the pending
turn until it is done or failed. A failed turn is retried in place, so a finished transcript
alternates user / assistant with no gaps. Each conversation has at most one unfinished reply
(a partial unique constraint), and each user at most ARBITER_CHAT_MESSAGES_PER_MINUTE messages.
"""

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.chat.models import (
    UNFINISHED,
    Conversation,
    Message,
    MessageRole,
    MessageStatus,
    Reaction,
    ReactionKind,
)
from apps.chat.selectors import conversation_get_for_user, message_get_for_user, reply_is_stale
from apps.core.errors import ApplicationError, Conflict, PermissionDenied, RateLimited
from apps.core.text import storable_text
from apps.generation.backends import (
    BackendConfigError,
    GenerationError,
    backend_from_config,
    redact_config,
    validate_config,
)
from apps.generation.endpoints import callable_config, stored_backend_config
from apps.projects.models import FeedbackKind, Project
from apps.projects.selectors import user_is_project_admin
from apps.training.model_choices import backend_config_resolve, model_reference_check

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000


def chat_backend_configure(*, project: Project, actor: User, config: dict) -> Project:
    """Sets the project's generation backend after checking it. Admins of chat projects only.

    Conversations already open use the new backend from their next reply on; each reply stores
    the model that wrote it.
    """
    if project.kind != FeedbackKind.CHAT:
        raise ApplicationError(gettext("Only chat projects have a generation backend."))
    if not user_is_project_admin(user=actor, project=project):
        raise PermissionDenied(gettext("Only the project's admins may change its backend."))
    project.generation_backend = reply_backend_checked(config=config, project=project, actor=actor)
    project.save(update_fields=["generation_backend"])
    return project


def reply_backend_checked(*, config: dict, project: Project, actor: User) -> dict:
    """A backend that writes replies (chat's, an arena contestant's), ready to store: a server's URL
    and key go into the project's endpoint row and the backend names the row; a local model is
    chosen, never typed as a path (a policy run the actor may use, or an offered model)."""
    config = stored_backend_config(config=config, project=project, actor=actor)
    if config["type"] == "transformers":
        config["model"] = model_reference_check(
            reference=config["model"],
            project=project,
            family="policy",
            what="the local model",
            adapters=True,
        )
    return config


def conversation_start(*, user: User, project: Project) -> Conversation:
    """An empty conversation of the user's in a chat project with a usable backend: a new one,
    or their latest if it has no messages yet."""
    if project.kind != FeedbackKind.CHAT:
        raise ApplicationError(gettext("Only chat projects have conversations."))
    try:
        config = validate_config(project.generation_backend)
    except BackendConfigError as exc:
        raise ApplicationError(
            gettext("This project's chat backend is not set up yet: %(exc)s") % {"exc": exc}
        ) from None
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
    """Stores the user's message and a pending reply, and queues the reply for a worker once
    this commits; returns the pending reply at once. 404 for a conversation that is not the
    user's; 409 while the previous reply is unfinished or failed (retry that first); 429 past
    the user's messages-per-minute limit."""
    content = (content or "").strip()
    if not content:
        raise ApplicationError(gettext("Write a message first."))
    if "\x00" in content:  # PostgreSQL cannot store it: refuse it here rather than fail there
        raise ApplicationError(gettext("A message cannot contain NUL (\\x00) characters."))
    if len(content) > MAX_MESSAGE_CHARS:
        raise ApplicationError(
            gettext("A message may be at most %(MAX_MESSAGE_CHARS)s characters long.")
            % {"MAX_MESSAGE_CHARS": format(MAX_MESSAGE_CHARS, ",")}
        )
    with transaction.atomic():
        # The user's row serialises their sends, so that the per-minute count is exact.
        User.objects.select_for_update().filter(pk=user.pk).first()
        conversation = _conversation_locked(user=user, conversation_id=conversation_id)
        _check_message_rate(user=user)
        last = conversation.messages.order_by("-index").first()
        if last is not None and last.role == MessageRole.USER:
            raise Conflict(
                gettext("The model has not answered your last message yet; wait, or retry.")
            )
        if last is not None and last.status in UNFINISHED:
            raise Conflict(gettext("The model is still answering your last message; wait for it."))
        if last is not None and last.status == MessageStatus.FAILED:
            raise Conflict(gettext("The last reply failed; retry it before you write more."))
        mine = Message.objects.create(
            conversation=conversation,
            index=last.index + 1 if last else 0,
            role=MessageRole.USER,
            content=content,
        )
        return _reply_request(conversation=conversation, index=mine.index + 1)


def message_retry(*, user: User, conversation_id: int) -> Message:
    """Queues again the conversation's failed or missing last reply, or one that no worker has
    finished within ARBITER_CHAT_REPLY_STALE_SECONDS (its worker died or its task was lost)."""
    with transaction.atomic():
        conversation = _conversation_locked(user=user, conversation_id=conversation_id)
        last = conversation.messages.order_by("-index").first()
        if last is None or (
            last.role == MessageRole.ASSISTANT and last.status == MessageStatus.DONE
        ):
            raise Conflict(gettext("There is no failed reply to retry."))
        if last.status in UNFINISHED and not reply_is_stale(last):
            raise Conflict(gettext("The model is still answering; wait for its reply."))
        index = last.index if last.role == MessageRole.ASSISTANT else last.index + 1
        return _reply_request(conversation=conversation, index=index)


def reply_generate(*, message_id: int) -> Message | None:
    """Asks the model for a pending reply and stores the answer, or the reason there is none.

    Safe to run twice: only the call that claims the pending reply asks the model; a reply that
    another worker is writing, or that is finished, is left as it is. The model is asked outside
    any transaction (a reply may take minutes; no row or SQLite write lock is held meanwhile).
    """
    message = _reply_claim(message_id=message_id)
    if message is None:
        return Message.objects.filter(pk=message_id).first()
    conversation = message.conversation
    history = [
        {"role": m.role, "content": m.content}
        for m in conversation.messages.filter(
            index__lt=message.index, status=MessageStatus.DONE
        ).order_by("index")
    ]
    # The project's backend now, not the one the conversation started with: an admin who fixes
    # a broken backend makes every failed reply retryable.
    config = Project.objects.values_list("generation_backend", flat=True).get(
        pk=conversation.project_id
    )
    content, error, model_name = "", "", ""
    try:
        local = callable_config(
            backend_config_resolve(config=config, project=conversation.project),
            project_id=conversation.project_id,
        )
        with backend_from_config(local) as backend:
            model_name = config["model"]  # a local model's reference, not the folder it names
            content = storable_text(backend.generate(history)[0])
    except BackendConfigError as exc:
        error = f"The project's chat backend is misconfigured: {exc}"
    except ApplicationError as exc:
        error = f"The project's chat backend is misconfigured: {exc.message}"
    except GenerationError as exc:
        error = exc.reason
    except Exception as exc:  # a bug in a backend must not lose the turn
        logger.exception("Generation failed in conversation %s", conversation.pk)
        error = f"The model failed unexpectedly ({type(exc).__name__})."
    return _reply_store(
        message_id=message.pk,
        attempt=message.attempt,
        content=content,
        error=error,
        model_name=model_name,
    )


def reaction_set(*, user: User, message_id: int, kind: str) -> Reaction | None:
    """The user's one reaction to a reply: set, replaced by another kind, or removed (`kind=""`).

    404 for a message outside the user's own conversations (nothing is stored); 400 for a user
    message, a failed reply or an unknown kind.
    """
    if kind and kind not in ReactionKind.values:
        raise ApplicationError(gettext("Unknown reaction %(kind)r.") % {"kind": kind})
    with transaction.atomic():
        message = message_get_for_user(user=user, message_id=message_id)
        # Lock the message so that two quick clicks replace rather than race on the unique row.
        Message.objects.select_for_update().filter(pk=message.pk).first()
        if message.role != MessageRole.ASSISTANT or message.status != MessageStatus.DONE:
            raise ApplicationError(gettext("Only the model's replies take reactions."))
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


def _check_message_rate(*, user: User) -> None:
    limit = settings.ARBITER_CHAT_MESSAGES_PER_MINUTE
    if not limit:
        return
    window_start = timezone.now() - timedelta(minutes=1)
    recent = list(
        Message.objects.filter(
            conversation__user=user, role=MessageRole.USER, created_at__gte=window_start
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        retry_after = max(1, math.ceil((recent[-1] - window_start).total_seconds()))
        raise RateLimited(
            gettext(
                "You may send at most %(limit)s messages a minute; try again in %(retry_after)s s."
            )
            % {"limit": limit, "retry_after": retry_after},
            extra={"retry_after": retry_after},
        )


def _reply_request(*, conversation: Conversation, index: int) -> Message:
    """Marks the assistant turn at `index` pending (creating it if missing) and queues it for a
    worker after commit. Runs inside the caller's transaction, with the conversation locked."""
    from apps.chat.tasks import generate_reply

    now = timezone.now()
    reply = Message.objects.filter(conversation=conversation, index=index).first()
    try:
        with transaction.atomic():  # a savepoint: a refused row leaves the transaction usable
            if reply is None:
                reply = Message.objects.create(
                    conversation=conversation,
                    index=index,
                    role=MessageRole.ASSISTANT,
                    status=MessageStatus.PENDING,
                    requested_at=now,
                )
            else:
                reply.content, reply.error, reply.model_name = "", "", ""
                reply.status, reply.requested_at = MessageStatus.PENDING, now
                reply.save(
                    update_fields=["content", "error", "model_name", "status", "requested_at"]
                )
    except IntegrityError:
        # Only reachable past the checks above by a writer that ignores the conversation lock.
        raise Conflict(gettext("The model is already answering in this conversation.")) from None
    transaction.on_commit(lambda: generate_reply.delay(reply.pk))
    return reply


def _reply_claim(*, message_id: int) -> Message | None:
    """Moves a pending reply to running under a new attempt number; None when it is not
    pending (a second delivery, a finished reply, a deleted conversation)."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .filter(pk=message_id, role=MessageRole.ASSISTANT)
            .first()
        )
        if message is None or message.status != MessageStatus.PENDING:
            return None
        message.status = MessageStatus.RUNNING
        message.attempt += 1
        message.requested_at = timezone.now()
        message.save(update_fields=["status", "attempt", "requested_at"])
        return message


@transaction.atomic
def _reply_store(
    *, message_id: int, attempt: int, content: str, error: str, model_name: str
) -> Message:
    """Stores the answer of one claim, unless a later retry has taken the reply over since."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status != MessageStatus.RUNNING or message.attempt != attempt:
        return message
    message.content, message.error, message.model_name = content, error, model_name
    message.status = MessageStatus.FAILED if error else MessageStatus.DONE
    message.save(update_fields=["content", "error", "model_name", "status"])
    return message
