import functools

from django.conf import settings
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.imports.models import ImportJob
from apps.imports.selectors import import_job_get_for_admin
from apps.imports.services import import_job_create
from apps.projects.models import PairStrategy, Role
from apps.projects.selectors import project_get_for_user


class ImportIn(serializers.Serializer):
    file = serializers.FileField()
    pair_strategy = serializers.ChoiceField(choices=PairStrategy.choices, required=False)
    max_pairs_per_prompt = serializers.IntegerField(min_value=1, max_value=100, required=False)


class ImportOut(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "project",
            "original_name",
            "status",
            "phase",
            "attempts",
            "error",
            "percent",
            "total_rows",
            "processed_rows",
            "error_count",
            "errors",
            "pair_strategy",
            "max_pairs_per_prompt",
            "prompts_created",
            "responses_created",
            "tasks_created",
            "created_at",
            "started_at",
            "finished_at",
        ]


def refuse_bodies_over_import_limit(view):
    """Answers 413 to a body larger than ARBITER_IMPORT_MAX_BYTES before anything reads it:
    wrapped outside DRF, so that neither authentication (a session's CSRF check reads the form)
    nor the parser touches the upload. A body without a length is read as empty by Django."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        limit = settings.ARBITER_IMPORT_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"detail": "The Content-Length header is not a number."}, status=400
            )
        if length > limit:
            return JsonResponse(
                {
                    "detail": f"The upload is {length} bytes; imports are limited to {limit} "
                    "bytes (ARBITER_IMPORT_MAX_BYTES). Split the file, or ask the operator to "
                    "raise the limit. Nothing was stored.",
                    "limit_bytes": limit,
                },
                status=413,
            )
        return view(request, *args, **kwargs)

    return guarded


@refuse_bodies_over_import_limit
@extend_schema(
    request={"multipart/form-data": ImportIn},
    responses={202: ImportOut, 413: OpenApiResponse(description="Body over the import limit.")},
)
@api_view(["POST"])
@parser_classes([MultiPartParser])
def import_create_api(request, project_id: int):
    """Queues a JSONL import; poll the returned job until it is `succeeded` or `failed`.
    Bodies over ARBITER_IMPORT_MAX_BYTES are refused with 413."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    data = ImportIn(data=request.data)
    data.is_valid(raise_exception=True)
    job = import_job_create(
        project=project,
        user=request.user,
        upload=data.validated_data["file"],
        pair_strategy=data.validated_data.get("pair_strategy"),
        max_pairs_per_prompt=data.validated_data.get("max_pairs_per_prompt"),
    )
    return Response(ImportOut(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(responses=ImportOut)
@api_view(["GET"])
def import_detail_api(request, job_id: int):
    return Response(ImportOut(import_job_get_for_admin(user=request.user, job_id=job_id)).data)
