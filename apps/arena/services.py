"""The arena's writes.

Admins add contestants (a local model reference or an endpoint, checked as chat's backend is).
A person starts a battle: two different contestants, drawn at random, become A and B. Each turn
stores the person's message and two pending replies, which Celery workers write
(`arena.generate_reply`, as chat's replies are). When both are done the person votes A / B / tie /
both bad with a strength, and picks the answer the conversation continues from (the winner by
default). The vote is stored as a pairwise judgment of the project whose prompt is the
conversation so far, so it counts in the leaderboard and exports as a conversational pair. The
models' names are shown only once the person reveals them, which ends the battle.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.arena.models import Battle, Contestant, Reply, Turn
from apps.arena.selectors import battle_get_for_user, battle_history, turn_replies_done
from apps.chat.models import UNFINISHED, MessageStatus
from apps.chat.services import MAX_MESSAGE_CHARS, reply_backend_checked
from apps.core.errors import ApplicationError, Conflict, PermissionDenied, RateLimited
from apps.core.text import storable_text
from apps.corpus.models import Prompt, Response
from apps.dashboard.services import rollups_judgments_added
from apps.feedback.facts import derived_facts
from apps.feedback.models import Judgment, Phase
from apps.feedback.payloads import InvalidPayload, TaskShape, validate_pairwise
from apps.generation.backends import BackendConfigError, GenerationError, backend_from_config
from apps.generation.endpoints import callable_config
from apps.labeling.models import Task, TaskItem
from apps.projects.models import FeedbackKind, Project
from apps.projects.selectors import project_get_for_user, user_is_project_admin
from apps.training.model_choices import backend_config_resolve

logger = logging.getLogger(__name__)

SIDES = {"A": 0, "B": 1}


def contestant_add(*, project: Project, actor: User, config: dict) -> Contestant:
    """Puts a model in the project's arena, named by its model. Admins of pairwise projects."""
    if project.kind != FeedbackKind.PAIRWISE:
        raise ApplicationError(_("Only pairwise projects have an arena."))
    if not user_is_project_admin(user=actor, project=project):
        raise PermissionDenied(_("Only the project's admins may change its arena."))
    config = reply_backend_checked(config=config, project=project, actor=actor)
    name = str(config["model"])[:200]
    if Contestant.objects.filter(project=project, name=name).exists():
        raise Conflict(_("%(name)s is already in the arena.") % {"name": name})
    return Contestant.objects.create(project=project, name=name, backend=config)


def battle_start(*, user: User, project_id: int) -> Battle:
    """A new battle of the user's between two different contestants in random order."""
    project = project_get_for_user(user=user, project_id=project_id)
    if project.kind != FeedbackKind.PAIRWISE:
        raise ApplicationError(_("Only pairwise projects have an arena."))
    contestants = list(project.arena_contestants.all())
    if len(contestants) < 2:
        raise ApplicationError(_("The arena needs at least two models; ask an admin to add them."))
    a, b = random.SystemRandom().sample(contestants, 2)
    return Battle.objects.create(project=project, user=user, contestant_a=a, contestant_b=b)


def turn_send(*, user: User, battle_id: int, content: str) -> Turn:
    """Stores the person's message and two pending replies, queued for workers on commit. 409
    while the last turn is not voted or the battle is revealed; 429 past the per-minute limit."""
    content = (content or "").strip()
    if not content:
        raise ApplicationError(_("Write a message first."))
    if "\x00" in content:
        raise ApplicationError(_("A message cannot contain NUL (\\x00) characters."))
    if len(content) > MAX_MESSAGE_CHARS:
        raise ApplicationError(
            _("A message may be at most %(MAX_MESSAGE_CHARS)s characters long.")
            % {"MAX_MESSAGE_CHARS": format(MAX_MESSAGE_CHARS, ",")}
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        battle = _battle_locked(user=user, battle_id=battle_id)
        if battle.revealed_at is not None:
            raise Conflict(_("This battle is over: its models are revealed. Start a new one."))
        _check_rate(user=user)
        last = battle.turns.order_by("-index").first()
        if last is not None and not last.choice:
            raise Conflict(_("Vote on the last answers before you write more."))
        turn = Turn.objects.create(
            battle=battle, index=last.index + 1 if last else 0, content=content
        )
        now = timezone.now()
        replies = [Reply.objects.create(turn=turn, side=s, requested_at=now) for s in (0, 1)]
        _enqueue(replies)
        return turn


def reply_retry(*, user: User, battle_id: int) -> Turn:
    """Queues again the last turn's failed replies, or ones no worker finished in time."""
    with transaction.atomic():
        battle = _battle_locked(user=user, battle_id=battle_id)
        turn = battle.turns.order_by("-index").first()
        stale = timezone.now() - timedelta(seconds=settings.ARBITER_CHAT_REPLY_STALE_SECONDS)
        again = [
            r
            for r in (turn.replies.select_for_update() if turn else [])
            if r.status == MessageStatus.FAILED
            or (r.status in UNFINISHED and r.requested_at and r.requested_at < stale)
        ]
        if not again:
            raise Conflict(_("There is no failed reply to retry."))
        for reply in again:
            reply.content, reply.error, reply.status = "", "", MessageStatus.PENDING
            reply.requested_at = timezone.now()
            reply.save(update_fields=["content", "error", "status", "requested_at"])
        _enqueue(again)
        return turn


def reply_generate(*, reply_id: int) -> Reply | None:
    """Asks one side's model for a pending reply and stores the answer or why there is none.
    Safe to run twice: only the call that claims the pending reply asks the model, outside any
    transaction."""
    reply = _reply_claim(reply_id=reply_id)
    if reply is None:
        return Reply.objects.filter(pk=reply_id).first()
    turn = reply.turn
    battle = turn.battle
    contestant = battle.contestant_a if reply.side == 0 else battle.contestant_b
    history = battle_history(battle=battle, before=turn.index)
    history.append({"role": "user", "content": turn.content})
    content, error = "", ""
    try:
        local = callable_config(
            backend_config_resolve(config=contestant.backend, project=battle.project),
            project_id=battle.project_id,
        )
        with backend_from_config(local) as backend:
            content = storable_text(backend.generate(history)[0])
    except BackendConfigError as exc:
        error = f"This model is misconfigured: {exc}"
    except ApplicationError as exc:
        error = f"This model is misconfigured: {exc.message}"
    except GenerationError as exc:
        error = exc.reason
    except Exception as exc:  # a bug in a backend must not lose the turn
        logger.exception("Arena generation failed for reply %s", reply.pk)
        error = f"The model failed unexpectedly ({type(exc).__name__})."
    return _reply_store(reply_id=reply.pk, attempt=reply.attempt, content=content, error=error)


def turn_vote(
    *,
    user: User,
    battle_id: int,
    choice: str,
    strength: str | None = None,
    continue_with: str | None = None,
) -> Turn:
    """The person's vote on the last turn, stored as a pairwise judgment whose prompt is the
    conversation so far and whose responses are the two answers (sources: the models). The
    conversation continues from `continue_with` (A or B), by default the winner; a tie or a
    both-bad vote must say which."""
    with transaction.atomic():
        battle = _battle_locked(user=user, battle_id=battle_id)
        turn = battle.turns.order_by("-index").prefetch_related("replies").first()
        if turn is None or turn.choice:
            raise Conflict(_("There is no answered turn waiting for a vote."))
        if not turn_replies_done(turn):
            raise Conflict(_("Both models must answer before you vote."))
        try:
            shape = TaskShape(response_texts=tuple(r.content for r in turn.replies.all()))
            normal = validate_pairwise({"choice": choice, "strength": strength or None}, shape)
        except InvalidPayload as exc:
            raise ApplicationError(str(exc)) from None
        keep = continue_with or (normal["choice"] if normal["choice"] in SIDES else None)
        if keep not in SIDES:
            raise ApplicationError(_("Say which answer the conversation continues from (A or B)."))
        turn.judgment = _judgment_store(battle=battle, turn=turn, user=user, payload=normal)
        turn.choice, turn.strength = normal["choice"], normal["strength"] or ""
        turn.continued_from = SIDES[keep]
        turn.save(update_fields=["judgment", "choice", "strength", "continued_from"])
        return turn


def battle_reveal(*, user: User, battle_id: int) -> Battle:
    """Shows the two models' names and ends the battle; only once every turn is voted."""
    with transaction.atomic():
        battle = _battle_locked(user=user, battle_id=battle_id)
        if battle.revealed_at is not None:
            return battle
        turns = list(battle.turns.values_list("choice", flat=True))
        if not turns or not all(turns):
            raise Conflict(_("Vote on every turn before the models are revealed."))
        battle.revealed_at = timezone.now()
        battle.save(update_fields=["revealed_at"])
        return battle


def _judgment_store(*, battle: Battle, turn: Turn, user: User, payload: dict) -> Judgment:
    replies = sorted(turn.replies.all(), key=lambda r: r.side)
    messages = battle_history(battle=battle, before=turn.index)
    messages.append({"role": "user", "content": turn.content})
    prompt = Prompt.objects.create(
        project=battle.project,
        messages=messages,
        metadata={"arena_battle": battle.pk, "arena_turn": turn.index},
    )
    names = (battle.contestant_a.name, battle.contestant_b.name)
    responses = [
        Response.objects.create(prompt=prompt, text=r.content, source=names[r.side])
        for r in replies
    ]
    # The task is the voter's alone and already judged: no annotator is ever served it.
    task = Task.objects.create(
        project=battle.project,
        prompt=prompt,
        kind=FeedbackKind.PAIRWISE,
        assignee=user,
        judgment_count=1,
        context={"arena_battle": battle.pk},
    )
    for position, response in enumerate(responses):
        TaskItem.objects.create(task=task, response=response, position=position)
    order = [r.pk for r in responses]
    judgment = Judgment.objects.create(
        **derived_facts(
            payload=payload,
            display_order=order,
            position_of={pk: i for i, pk in enumerate(order)},
        ),
        project=battle.project,
        task=task,
        annotator=user,
        kind=FeedbackKind.PAIRWISE,
        phase=Phase.MAIN,
        payload=payload,
        display_order=order,
        started_at=turn.created_at,
        duration_ms=int((timezone.now() - turn.created_at).total_seconds() * 1000),
        source_name="arena",
    )
    rollups_judgments_added(project=battle.project, judgments=[judgment])
    return judgment


def _battle_locked(*, user: User, battle_id: int) -> Battle:
    battle = battle_get_for_user(user=user, battle_id=battle_id)
    return (
        Battle.objects.select_for_update(of=("self",))
        .select_related("project", "contestant_a", "contestant_b")
        .get(pk=battle.pk)
    )


def _check_rate(*, user: User) -> None:
    limit = settings.ARBITER_CHAT_MESSAGES_PER_MINUTE
    if not limit:
        return
    window_start = timezone.now() - timedelta(minutes=1)
    recent = Turn.objects.filter(battle__user=user, created_at__gte=window_start).count()
    if recent >= limit:
        raise RateLimited(
            _("You may send at most %(limit)s messages a minute; try again shortly.")
            % {"limit": limit},
            extra={"retry_after": 60},
        )


def _enqueue(replies: list[Reply]) -> None:
    from apps.arena.tasks import generate_reply

    ids = [r.pk for r in replies]
    transaction.on_commit(lambda: [generate_reply.delay(pk) for pk in ids])


def _reply_claim(*, reply_id: int) -> Reply | None:
    with transaction.atomic():
        reply = (
            Reply.objects.select_for_update(of=("self",))
            .select_related(
                "turn__battle__project", "turn__battle__contestant_a", "turn__battle__contestant_b"
            )
            .filter(pk=reply_id)
            .first()
        )
        if reply is None or reply.status != MessageStatus.PENDING:
            return None
        reply.status = MessageStatus.RUNNING
        reply.attempt += 1
        reply.requested_at = timezone.now()
        reply.save(update_fields=["status", "attempt", "requested_at"])
        return reply


@transaction.atomic
def _reply_store(*, reply_id: int, attempt: int, content: str, error: str) -> Reply:
    reply = Reply.objects.select_for_update().get(pk=reply_id)
    if reply.status != MessageStatus.RUNNING or reply.attempt != attempt:
        return reply
    reply.content, reply.error = content, error
    reply.status = MessageStatus.FAILED if error else MessageStatus.DONE
    reply.save(update_fields=["content", "error", "status"])
    return reply
