"""The project's jobs, of every kind, read-only (admins only; anyone else gets 404)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination

from apps.core.jobs import JobStatus
from apps.dashboard.jobs import job_kind_names, job_rows, project_jobs
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user


class JobOut(serializers.Serializer):
    kind = serializers.CharField(help_text="The job's kind, e.g. training.trainingrun.")
    kind_name = serializers.CharField()
    id = serializers.IntegerField()
    summary = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    worker = serializers.CharField()
    error = serializers.CharField(help_text="Why it failed (or was given up).")
    cancel_requested_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.SerializerMethodField()

    def get_duration_seconds(self, row) -> float | None:
        return row.duration.total_seconds() if row.duration is not None else None


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=JobStatus.values, required=False),
        OpenApiParameter("kind", str, required=False, description="e.g. training.trainingrun"),
    ],
    responses=JobOut(many=True),
)
@api_view(["GET"])
def project_job_list_api(request, project_id: int):
    """Every background job of the project, newest first: training runs, generation jobs,
    exports, imports, dataset imports and webhook deliveries."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    status = request.query_params.get("status")
    kind = request.query_params.get("kind")
    jobs = project_jobs(
        project_id=project.pk,
        status=status if status in JobStatus.values else None,
        kind=kind if kind in job_kind_names() else None,
    )
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(jobs, request)
    return paginator.get_paginated_response(JobOut(job_rows(page), many=True).data)
