from drf_spectacular.utils import extend_schema
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
            "finished_at",
        ]


@extend_schema(request={"multipart/form-data": ImportIn}, responses={202: ImportOut})
@api_view(["POST"])
@parser_classes([MultiPartParser])
def import_create_api(request, project_id: int):
    """Queues a JSONL import; poll the returned job until it is `succeeded` or `failed`."""
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
