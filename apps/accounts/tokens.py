"""What an API request may do: the token's scope, and how often (throttles).

Every API view gets these from REST_FRAMEWORK's defaults (config/settings.py), so none has to
remember them. A request signed in through the browser's session is limited only by the user's
roles; one made with a token is limited by the token's scope as well:

- read: safe methods (GET, HEAD, OPTIONS) only;
- label: read, plus the labeling and chat actions named in LABEL_VIEWS;
- admin: everything the user's roles allow.
"""

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

from apps.accounts.models import ApiToken, TokenScope

# The URL names of the writes a label token may make: taking, submitting and skipping tasks,
# and chatting.
LABEL_VIEWS = frozenset(
    {
        "task-next",
        "judgment-submit",
        "assignment-skip",
        "chat:api-send",
        "chat:api-retry",
        "chat:api-reaction",
    }
)


class ApiTokenAuthentication(TokenAuthentication):
    """django-rest-knox's token check (`request.auth` is the ApiToken), without its sweep of all
    the user's other tokens for expired ones on every request: that is one more query on every
    labeling request. An expired token is refused all the same, and deleted when presented."""

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class ApiTokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of these tokens: knox's, for our subclass."""

    target_class = ApiTokenAuthentication


class TokenScopePermission(BasePermission):
    """Refuses (403) what the request's token scope does not cover."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken) or token.scope == TokenScope.ADMIN:
            return True
        if request.method in SAFE_METHODS:
            return True
        if token.scope == TokenScope.LABEL:
            match = getattr(request, "resolver_match", None)
            if match is not None and match.view_name in LABEL_VIEWS:
                return True
            self.message = "A label token may read, label and chat; this needs an admin token."
            return False
        self.message = "A read token may only read; this needs a label or admin token."
        return False


class _RateFromSettings:
    """DRF reads the rates once, at import; these read them per request, so that a change of
    settings (a test, a benchmark) takes effect. A missing or empty rate means no limit."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or None


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Requests without a user, counted per client address (rate `anon`)."""


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Requests of one user, whatever token or session they use (rate `user`)."""


class ScopedThrottle(_RateFromSettings, ScopedRateThrottle):
    """A stricter limit for the views that set `throttle_scope` (e.g. `auth`: token management)."""
