"""Reads of the arena, scoped to the user's own battles in projects they belong to."""

from django.http import Http404

from apps.accounts.models import User
from apps.arena.models import Battle, Turn
from apps.chat.models import UNFINISHED, MessageStatus
from apps.projects.selectors import projects_for_user


def battle_get_for_user(*, user: User, battle_id: int) -> Battle:
    """The user's own battle in a project they still belong to; otherwise 404."""
    battle = (
        Battle.objects.select_related("project", "contestant_a", "contestant_b")
        .filter(pk=battle_id, user=user, project__in=projects_for_user(user=user))
        .first()
    )
    if battle is None:
        raise Http404("No such battle.")
    return battle


def battle_history(*, battle: Battle, before: int) -> list[dict]:
    """The conversation so far in chat messages, up to (not including) turn `before`: each voted
    turn's message and the answer the person chose to continue from."""
    messages: list[dict] = []
    turns = battle.turns.filter(index__lt=before).prefetch_related("replies").order_by("index")
    for turn in turns:
        messages.append({"role": "user", "content": turn.content})
        kept = next(r for r in turn.replies.all() if r.side == turn.continued_from)
        messages.append({"role": "assistant", "content": kept.content})
    return messages


def turn_replies_done(turn: Turn) -> bool:
    replies = list(turn.replies.all())
    return len(replies) == 2 and all(r.status == MessageStatus.DONE for r in replies)


def battle_names(*, battle: Battle) -> dict | None:
    """The two models' names, or None while the battle is not revealed."""
    if battle.revealed_at is None:
        return None
    return {"A": battle.contestant_a.name, "B": battle.contestant_b.name}


def battles_for_user(*, user: User, project) -> list[Battle]:
    return list(Battle.objects.filter(project=project, user=user).order_by("-created_at")[:50])


def battle_view(*, battle: Battle) -> dict:
    """What the battle page shows: the turns with both answers (no model names before the
    reveal), and what the person may do next."""
    turns = list(battle.turns.prefetch_related("replies").order_by("index"))
    last = turns[-1] if turns else None
    answering = bool(last) and any(r.status in UNFINISHED for r in last.replies.all())
    failed = bool(last) and any(r.status == MessageStatus.FAILED for r in last.replies.all())
    votable = bool(last) and not last.choice and turn_replies_done(last)
    revealed = battle.revealed_at is not None
    return {
        "battle": battle,
        "turns": [
            {"turn": t, "replies": sorted(t.replies.all(), key=lambda r: r.side)} for t in turns
        ],
        "answering": answering,
        "failed": failed,
        "votable": votable,
        "can_send": not revealed and (last is None or bool(last.choice)),
        "can_reveal": not revealed and bool(turns) and all(t.choice for t in turns),
        "names": battle_names(battle=battle),
    }
