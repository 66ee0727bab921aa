"""Celery tasks of the arena: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.arena.services import reply_generate


@shared_task(
    name="arena.generate_reply", queue="default", acks_late=True, reject_on_worker_lost=True
)
def generate_reply(reply_id: int) -> str | None:
    """One model call for one side; nothing to cancel midway. A second delivery finds the reply
    claimed or finished and does nothing."""
    reply = reply_generate(reply_id=reply_id)
    return reply.status if reply else None
