"""Reading chats. Everything is scoped to its owner: another user's conversation or message is
indistinguishable from a missing one (404)."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

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
from apps.projects.models import FeedbackKind, Project
from apps.projects.selectors import project_get_for_user, projects_for_user


@dataclass(frozen=True)
class ReactionChoice:
    kind: str
    emoji: str
    name: str  # what a screen reader says
    key: int  # the number key that picks it on a focused reply


REACTION_CHOICES = tuple(
    ReactionChoice(kind=value, emoji=emoji, name=value.replace("_", " ").capitalize(), key=i)
    for i, (value, emoji) in enumerate(ReactionKind.choices, start=1)
)


def chat_project_get_for_user(*, user: User, project_id: int, role: str | None = None) -> Project:
    """The user's chat project (with `role`, if given); any other project answers 404."""
    project = project_get_for_user(user=user, project_id=project_id, role=role)
    if project.kind != FeedbackKind.CHAT:
        raise Http404("This project is not a chat project.")
    return project


def conversations_for_user(*, user: User, project: Project) -> QuerySet[Conversation]:
    """The user's conversations in the project, newest first, with their length and opening line."""
    opening = Message.objects.filter(conversation=OuterRef("pk"), role=MessageRole.USER).order_by(
        "index"
    )
    return (
        Conversation.objects.filter(project=project, user=user)
        .annotate(
            message_count=Count("messages"),
            opening=Subquery(opening.values("content")[:1]),
        )
        .order_by("-created_at", "-pk")
    )


def conversation_get_for_user(*, user: User, conversation_id: int) -> Conversation:
    """The user's own conversation, in a chat project they still belong to; otherwise 404."""
    conversation = (
        Conversation.objects.select_related("project")
        .filter(
            pk=conversation_id,
            user=user,
            project__kind=FeedbackKind.CHAT,
            project__in=projects_for_user(user=user),
        )
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def message_get_for_user(*, user: User, message_id: int) -> Message:
    """A message of one of the user's own conversations; otherwise 404."""
    message = (
        Message.objects.select_related("conversation")
        .filter(
            pk=message_id,
            conversation__user=user,
            conversation__project__kind=FeedbackKind.CHAT,
            conversation__project__in=projects_for_user(user=user),
        )
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


def message_with_reaction(*, message: Message, user: User) -> Message:
    """The message with `my_reaction` (the user's Reaction or None) set."""
    message.my_reaction = Reaction.objects.filter(message=message, user=user).first()
    return message


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    messages: list[Message]  # each with `my_reaction`
    awaiting_reply: (
        bool  # the last message is the user's: its reply was cut off before it was queued
    )
    answering: bool  # the last reply is queued or being written by a worker
    stalled: bool  # ... for so long that its worker must be gone: it can be asked for again
    failed: bool  # the last reply failed: it can be retried

    @property
    def can_send(self) -> bool:
        return not (self.awaiting_reply or self.answering or self.failed)


def conversation_view(*, conversation: Conversation, user: User) -> ConversationView:
    """The transcript with the user's reactions, in two queries."""
    messages = list(
        conversation.messages.order_by("index").prefetch_related(
            Prefetch("reactions", queryset=Reaction.objects.filter(user=user), to_attr="mine")
        )
    )
    for message in messages:
        message.my_reaction = message.mine[0] if message.mine else None
    last = messages[-1] if messages else None
    answering = last is not None and last.status in UNFINISHED
    return ConversationView(
        conversation=conversation,
        messages=messages,
        awaiting_reply=last is not None and last.role == MessageRole.USER,
        answering=answering,
        stalled=answering and reply_is_stale(last),
        failed=last is not None and last.status == MessageStatus.FAILED,
    )


def reply_is_stale(message: Message) -> bool:
    """An unfinished reply queued or claimed so long ago that its worker must be gone."""
    limit = timezone.now() - timedelta(seconds=settings.ARBITER_CHAT_REPLY_STALE_SECONDS)
    return message.status in UNFINISHED and (
        message.requested_at is None or message.requested_at < limit
    )


def reaction_counts(*, project: Project) -> dict[str, int]:
    """How often each reaction was given in the project, every kind listed."""
    counts = dict(
        Reaction.objects.filter(message__conversation__project=project)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return {choice.kind: counts.get(choice.kind, 0) for choice in REACTION_CHOICES}


def project_reactions(*, project: Project) -> QuerySet[Reaction]:
    """A chat project's labels, newest first: each reaction with its reply and who gave it."""
    return (
        Reaction.objects.filter(message__conversation__project=project)
        .select_related("message", "user")
        .order_by("-updated_at", "-pk")
    )
