"""The webhook API: a project's receivers and their delivery logs. Admin-only: a project the
caller is not in answers 404, a project they only annotate 403."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from apps.core.jobs import JobStatus
from apps.webhooks.selectors import (
    project_get_for_webhooks,
    webhook_deliveries,
    webhook_endpoint_get_for_admin,
    webhook_endpoints,
)
from apps.webhooks.serializers import (
    WebhookCreatedOut,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
)
from apps.webhooks.services import webhook_endpoint_create, webhook_endpoint_deactivate


def _paginated(request, queryset, serializer_class):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


@extend_schema(methods=["GET"], responses=WebhookOut(many=True))
@extend_schema(methods=["POST"], request=WebhookIn, responses={201: WebhookCreatedOut})
@api_view(["GET", "POST"])
def webhook_list_api(request, project_id: int):
    """POST registers a receiver; the answer shows its signing secret, once."""
    project = project_get_for_webhooks(user=request.user, project_id=project_id)
    if request.method == "POST":
        data = WebhookIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(
            project=project, user=request.user, **data.validated_data
        )
        return Response(WebhookCreatedOut(endpoint).data, status=status.HTTP_201_CREATED)
    return _paginated(request, webhook_endpoints(project=project), WebhookOut)


@extend_schema(methods=["GET"], responses=WebhookOut)
@extend_schema(methods=["DELETE"], responses={204: None})
@api_view(["GET", "DELETE"])
def webhook_detail_api(request, endpoint_id: int):
    """DELETE deactivates the endpoint (its delivery log is kept)."""
    endpoint = webhook_endpoint_get_for_admin(user=request.user, endpoint_id=endpoint_id)
    if request.method == "DELETE":
        webhook_endpoint_deactivate(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(WebhookOut(endpoint).data)


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=JobStatus.values, required=False),
        OpenApiParameter("event", str, required=False),
    ],
    responses=WebhookDeliveryOut(many=True),
)
@api_view(["GET"])
def webhook_delivery_list_api(request, endpoint_id: int):
    """The endpoint's delivery log, newest first, with every attempt."""
    endpoint = webhook_endpoint_get_for_admin(user=request.user, endpoint_id=endpoint_id)
    deliveries = webhook_deliveries(endpoint=endpoint)
    for name in ("status", "event"):
        if value := request.query_params.get(name):
            deliveries = deliveries.filter(**{name: value})
    return _paginated(request, deliveries, WebhookDeliveryOut)
