"""Single sign-on with OpenID Connect (mozilla-django-oidc), off unless configured.

A sign-in finds the account by the provider's subject (`OidcIdentity`), or makes one; then the
user's group claim grants project roles as `ARBITER_OIDC_GROUP_ROLES` maps them. It lives with
the team concern because that mapping is what makes a sign-in a member of projects."""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import Http404
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.accounts.models import User
from apps.projects.models import Membership, Project, Role
from apps.projects.services import membership_set
from apps.teams.models import OidcIdentity

logger = logging.getLogger(__name__)


def oidc_enabled() -> bool:
    return bool(
        settings.OIDC_RP_CLIENT_ID
        and settings.OIDC_OP_AUTHORIZATION_ENDPOINT
        and settings.OIDC_OP_TOKEN_ENDPOINT
        and settings.OIDC_OP_USER_ENDPOINT
    )


def _issuer() -> str:
    parts = urlsplit(settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
    return f"{parts.scheme}://{parts.netloc}"


def _groups(claims: dict) -> list[str]:
    value = claims.get(settings.ARBITER_OIDC_GROUPS_CLAIM) or []
    return [value] if isinstance(value, str) else [str(g) for g in value]


def roles_from_groups(groups: list[str]) -> dict[int, str]:
    """The project roles the groups grant: {project id: role}; admin wins over annotator."""
    granted: dict[int, str] = {}
    mapping = settings.ARBITER_OIDC_GROUP_ROLES or {}
    for group in groups:
        for project_id, role in (mapping.get(group) or {}).items():
            if role not in Role.values:
                logger.warning("ARBITER_OIDC_GROUP_ROLES: unknown role %r for %r", role, group)
                continue
            if granted.get(int(project_id)) != Role.ADMIN:
                granted[int(project_id)] = role
    return granted


@transaction.atomic
def oidc_roles_apply(*, user: User, groups: list[str]) -> list[Membership]:
    """Gives the user the project roles their groups grant: joining, or raising an annotator to
    admin. A role is never lowered or taken away here (not one given by hand, nor one whose
    group the user left): an admin does that."""
    granted = roles_from_groups(groups)
    projects = Project.objects.in_bulk(list(granted))
    admin_of = set(
        Membership.objects.filter(user=user, role=Role.ADMIN).values_list("project_id", flat=True)
    )
    memberships = []
    for project_id, role in granted.items():
        if project_id in admin_of:
            continue
        project = projects.get(project_id)
        if project is None:
            logger.warning(
                "ARBITER_OIDC_GROUP_ROLES names project %s, which does not exist", project_id
            )
            continue
        memberships.append(membership_set(project=project, user=user, role=role))
    return memberships


class OidcBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code-flow backend, keyed by the subject claim, mapping groups."""

    def authenticate(self, request, **kwargs):
        if request is None or not oidc_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def filter_users_by_claims(self, claims):
        subject = claims.get("sub")
        if not subject:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(
            oidc_identities__issuer=_issuer(), oidc_identities__subject=subject
        )

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub"))

    def _free_username(self, claims) -> str:
        base = (claims.get("preferred_username") or claims.get("email") or "user").split("@")[0]
        base = "".join(c for c in base if c.isalnum() or c in "._-")[:140] or "user"
        name, n = base, 1
        while self.UserModel.objects.filter(username__iexact=name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    @transaction.atomic
    def create_user(self, claims):
        user = self.UserModel.objects.create_user(
            username=self._free_username(claims), email=claims.get("email", "")
        )  # no usable password: this account signs in through the provider
        OidcIdentity.objects.create(user=user, issuer=_issuer(), subject=claims["sub"])
        oidc_roles_apply(user=user, groups=_groups(claims))
        return user

    def update_user(self, user, claims):
        oidc_roles_apply(user=user, groups=_groups(claims))
        return user


class OidcStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider; 404 when single sign-on is not configured."""

    def dispatch(self, request, *args, **kwargs):
        if not oidc_enabled():
            raise Http404("Single sign-on is not configured.")
        self.OIDC_OP_AUTH_ENDPOINT = settings.OIDC_OP_AUTHORIZATION_ENDPOINT
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().dispatch(request, *args, **kwargs)


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; 404 when single sign-on is not configured."""

    def dispatch(self, request, *args, **kwargs):
        if not oidc_enabled():
            raise Http404("Single sign-on is not configured.")
        return super().dispatch(request, *args, **kwargs)
