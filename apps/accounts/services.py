"""Writes about accounts: a user's personal API tokens."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from apps.accounts.models import ApiToken, TokenScope, User
from apps.core.errors import ApplicationError

# How long a new token may live, in days: the choices offered, and the default.
TOKEN_LIFETIMES = (7, 30, 90, 365)
DEFAULT_TOKEN_LIFETIME = 30
MAX_TOKENS_PER_USER = 50


@transaction.atomic
def api_token_create(
    *, user: User, name: str, scope: str, days: int = DEFAULT_TOKEN_LIFETIME
) -> tuple[ApiToken, str]:
    """A new token of the user's, expiring in `days`. Returns the row and the token itself,
    which is stored only as a digest: the caller shows it once."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError(gettext("Name the token (what is it for?)."))
    if len(name) > 100:
        raise ApplicationError(gettext("A token's name may be at most 100 characters long."))
    if scope not in TokenScope.values:
        raise ApplicationError(
            gettext("Unknown scope %(scope)r: choose one of %(values)s.")
            % {"scope": scope, "values": ", ".join(TokenScope)}
        )
    if days not in TOKEN_LIFETIMES:
        raise ApplicationError(
            gettext("A token lives %(values)s days; not %(days)s.")
            % {"values": ", ".join(map(str, TOKEN_LIFETIMES)), "days": days}
        )
    # The user's row serialises their token changes, so the cap below is exact.
    User.objects.select_for_update().filter(pk=user.pk).first()
    # Expired tokens no longer work; they are cleared here rather than on every request.
    ApiToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise ApplicationError(
            gettext(
                "You have %(MAX_TOKENS_PER_USER)s tokens already; revoke one you no longer use."
            )
            % {"MAX_TOKENS_PER_USER": MAX_TOKENS_PER_USER}
        )
    return ApiToken.objects.create(user, expiry=timedelta(days=days), name=name, scope=scope)


def api_token_revoke(*, user: User, token_key: str) -> int:
    """Revokes the user's token(s) whose shown prefix is `token_key`: they stop working at once.
    404 when the user has none such (another user's token included)."""
    deleted, _ = ApiToken.objects.filter(user=user, token_key=token_key).delete()
    if not deleted:
        raise Http404("No such token.")
    return deleted


def user_language_set(*, user: User, language: str) -> User:
    """Stores the language the user's pages are shown in; "" means the browser's choice."""
    if language and language not in dict(settings.LANGUAGES):
        raise ApplicationError(_("Unknown language %(code)r.") % {"code": language})
    user.language = language
    user.save(update_fields=["language"])
    return user
