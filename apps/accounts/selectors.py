"""Reads about accounts."""

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import ApiToken, User


def api_tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens that still work, newest first; expired ones are left out (they are
    deleted when presented, or when the user makes a token)."""
    return (
        ApiToken.objects.filter(user=user).exclude(expiry__lt=timezone.now()).order_by("-created")
    )
