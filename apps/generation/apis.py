"""Model servers over HTTP: a project's OpenAI-compatible endpoints, their URLs checked by the
outbound guard, their API keys write-only (an answer says whether one is set, never what)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from apps.generation.endpoints import (
    KEY_LENGTH,
    NAME_LENGTH,
    URL_LENGTH,
    model_endpoint_create,
    model_endpoint_delete,
    model_endpoint_get_for_admin,
    model_endpoint_update,
    model_endpoints_for_project,
)
from apps.generation.models import ModelEndpoint
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user


class ModelEndpointOut(serializers.ModelSerializer):
    has_api_key = serializers.BooleanField(read_only=True)

    class Meta:
        model = ModelEndpoint
        fields = ["id", "project", "name", "base_url", "has_api_key", "created_at", "updated_at"]


class ModelEndpointIn(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_LENGTH, required=False, allow_blank=True)
    base_url = serializers.CharField(max_length=URL_LENGTH)
    api_key = serializers.CharField(
        max_length=KEY_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text='Sent as a bearer token; "" removes it. Never returned.',
    )


class ModelEndpointPatch(ModelEndpointIn):
    base_url = serializers.CharField(
        max_length=URL_LENGTH,
        required=False,
        help_text="A new URL drops the stored key unless `api_key` comes with it.",
    )


@extend_schema(
    request=ModelEndpointIn, responses={200: ModelEndpointOut(many=True), 201: ModelEndpointOut}
)
@api_view(["GET", "POST"])
def model_endpoint_list_api(request, project_id: int):
    """A project's model servers (admins); POST registers one."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    if request.method == "POST":
        data = ModelEndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = model_endpoint_create(project=project, actor=request.user, **data.validated_data)
        return Response(ModelEndpointOut(endpoint).data, status=status.HTTP_201_CREATED)
    return Response(ModelEndpointOut(model_endpoints_for_project(project=project), many=True).data)


@extend_schema(request=ModelEndpointPatch, responses={200: ModelEndpointOut, 204: None})
@api_view(["GET", "PATCH", "DELETE"])
def model_endpoint_detail_api(request, endpoint_id: int):
    """One model server; PATCH changes its name, URL or key; DELETE forgets it and its key."""
    endpoint = model_endpoint_get_for_admin(user=request.user, endpoint_id=endpoint_id)
    if request.method == "DELETE":
        model_endpoint_delete(endpoint=endpoint, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        data = ModelEndpointPatch(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = model_endpoint_update(
            endpoint=endpoint, actor=request.user, **data.validated_data
        )
    return Response(ModelEndpointOut(endpoint).data)
