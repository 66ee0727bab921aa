"""Celery tasks of the chat: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.chat.services import reply_generate


@shared_task(
    name="chat.generate_reply", queue="default", acks_late=True, reject_on_worker_lost=True
)
def generate_reply(message_id: int) -> str | None:
    """One model call; nothing to cancel midway. A second delivery finds the reply claimed or
    finished and does nothing."""
    reply = reply_generate(message_id=message_id)
    return reply.status if reply else None
