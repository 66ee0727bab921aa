"""Where webhooks may be sent: the app's one outbound guard (apps/core/outbound.py), kept here
under its old name for the webhook code and its tests."""

from django.conf import settings

from apps.core import outbound
from apps.core.outbound import Target, UnsafeTarget, post

__all__ = ["Target", "UnsafeTarget", "post", "resolve_target"]


def resolve_target(url: str) -> Target:
    """The webhook URL's checked, pinned target, or UnsafeTarget saying why not. The deprecated
    ARBITER_WEBHOOKS_ALLOW_PRIVATE still lets webhooks reach any address; the operator's
    ARBITER_OUTBOUND_ALLOW_HOSTS is the way to allow a private receiver."""
    return outbound.resolve_target(
        url,
        purpose="A webhook URL",
        allow_any_address=bool(getattr(settings, "ARBITER_WEBHOOKS_ALLOW_PRIVATE", False)),
    )
