"""Reads for webhooks: a project's endpoints and their delivery logs, for its admins only."""

from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.core.errors import PermissionDenied
from apps.projects.models import Project, Role
from apps.projects.selectors import project_get_for_user, projects_for_user, user_is_project_admin
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def project_get_for_webhooks(*, user: User, project_id: int) -> Project:
    """The project, if the user administers it: a project they are not in answers 404, one they
    only annotate 403."""
    project = project_get_for_user(user=user, project_id=project_id)
    if not user_is_project_admin(user=user, project=project):
        raise PermissionDenied("Only the project's admins may manage its webhooks.")
    return project


def webhook_endpoints(*, project: Project) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(project=project).order_by("id")


def webhook_endpoint_get_for_admin(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, project__in=projects).first()
    if endpoint is None:
        raise Http404("No such webhook.")
    return endpoint


def webhook_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.order_by("-created_at", "-id")
