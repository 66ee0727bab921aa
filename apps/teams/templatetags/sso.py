from django import template
from django.conf import settings

from apps.teams.oidc import oidc_enabled

register = template.Library()


@register.simple_tag
def sso_provider() -> str:
    """The sign-in button's provider name, or "" when single sign-on is off."""
    return settings.ARBITER_OIDC_PROVIDER_NAME if oidc_enabled() else ""
