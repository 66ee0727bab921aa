"""The dataset API: exports (streamed now, or written by a worker), snapshots, imports of TRL
datasets. Admin-only: a project the caller is not in answers 404, a project they
only annotate answers 403, and an object of a project they do not administer answers 404."""

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes, renderer_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from apps.core import jobs as job_layer
from apps.core.errors import Conflict
from apps.exports.files import export_tempfile, jsonl_stream
from apps.exports.importing import dataset_import_create
from apps.exports.models import (
    DatasetImport,
    ExportFormat,
    ExportJob,
    ExportKind,
    Snapshot,
)
from apps.exports.options import (
    AGGREGATES_BY_KIND,
    FORMS,
    SUBSETS,
    export_kinds_for,
    parse_export_options,
)
from apps.exports.selectors import (
    dataset_import_get_for_admin,
    export_job_get_for_admin,
    project_get_for_export,
    snapshot_get_for_admin,
    snapshot_open,
)
from apps.exports.serializers import (
    DatasetImportIn,
    DatasetImportOut,
    ExportIn,
    ExportJobOut,
    ExportKindOut,
    SnapshotOut,
)
from apps.exports.services import export_job_create, snapshot_create
from apps.imports.apis import refuse_bodies_over_import_limit

CONTENT_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


class FileRenderer(BaseRenderer):
    """Lets a download be asked for with any Accept header; errors still render as JSON."""

    media_type = "*/*"
    format = "file"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


DOWNLOAD_RENDERERS = [JSONRenderer, FileRenderer]
DOWNLOAD_RESPONSES = {
    (200, "application/x-ndjson"): OpenApiTypes.BINARY,
    (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
}


def _paginated(request, queryset, serializer_class):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(
        serializer_class(page, many=True, context={"request": request}).data
    )


def _filtered(queryset, request, *names: str):
    for name in names:
        value = request.query_params.get(name)
        if value:
            queryset = queryset.filter(**{name: value})
    return queryset


def _filter_parameters(**choices) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(name, str, enum=list(values) if values else None, required=False)
        for name, values in choices.items()
    ]


# ---------------------------------------------------------------- exports


@extend_schema(responses=ExportKindOut(many=True))
@api_view(["GET"])
def export_kind_list_api(request, project_id: int):
    """The exports this project's feedback kind can give, with their aggregates."""
    project = project_get_for_export(user=request.user, project_id=project_id)
    kinds = [
        {"kind": k, "label": ExportKind(k).label, "aggregates": list(AGGREGATES_BY_KIND[k])}
        for k in export_kinds_for(project.kind)
    ]
    return Response(ExportKindOut(kinds, many=True).data)


@extend_schema(
    parameters=[
        OpenApiParameter("kind", str, enum=ExportKind.values, location=OpenApiParameter.PATH),
        OpenApiParameter(
            "file_format", str, enum=ExportFormat.values, location=OpenApiParameter.PATH
        ),
        *_filter_parameters(
            form=FORMS,
            aggregate=sorted({a for v in AGGREGATES_BY_KIND.values() for a in v}),
            split=None,
            split_seed=None,
            subset=SUBSETS,
        ),
    ],
    responses={**DOWNLOAD_RESPONSES, 400: OpenApiResponse(description="Bad options")},
)
@api_view(["GET"])
@renderer_classes(DOWNLOAD_RENDERERS)
def export_download_now_api(request, project_id: int, kind: str, file_format: str):
    """Exports now and sends the file: JSON Lines stream as they are read from the database
    (constant memory, any size); Parquet is written to a temporary file first (its footer
    comes last), then sent."""
    project = project_get_for_export(user=request.user, project_id=project_id)
    query = {
        key: request.query_params[key]
        for key in ("form", "aggregate", "split", "split_seed", "subset")
        if key in request.query_params
    }
    options = parse_export_options(
        kind=kind, project_kind=project.kind, data={**query, "format": file_format}
    )
    name = f"project{project.pk}-{kind}.{file_format}"
    if file_format == "parquet":
        handle = export_tempfile(project=project, kind=kind, options=options)
        return FileResponse(
            handle, as_attachment=True, filename=name, content_type=CONTENT_TYPES["parquet"]
        )
    response = StreamingHttpResponse(
        jsonl_stream(project=project, kind=kind, options=options),
        content_type=CONTENT_TYPES["jsonl"],
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@extend_schema(
    methods=["GET"],
    parameters=_filter_parameters(
        kind=ExportKind.values, status=job_layer.JobStatus.values, file_format=ExportFormat.values
    ),
    responses=ExportJobOut(many=True),
)
@extend_schema(methods=["POST"], request=ExportIn, responses={202: ExportJobOut})
@api_view(["GET", "POST"])
def export_job_list_api(request, project_id: int):
    """GET: the project's export jobs, newest first. POST: queue an export; a worker writes it
    as a snapshot; poll the job until `succeeded`, then download it."""
    project = project_get_for_export(user=request.user, project_id=project_id)
    if request.method == "POST":
        data = ExportIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = export_job_create(
            project=project,
            kind=data.validated_data["kind"],
            options=data.options(),
            user=request.user,
        )
        return Response(ExportJobOut(job).data, status=status.HTTP_202_ACCEPTED)
    jobs = ExportJob.objects.filter(project=project).select_related("snapshot")
    jobs = _filtered(jobs, request, "kind", "status")
    if request.query_params.get("file_format"):  # not "format": DRF reads that one itself
        jobs = jobs.filter(format=request.query_params["file_format"])
    return _paginated(request, jobs.order_by("-created_at", "-id"), ExportJobOut)


@extend_schema(responses=ExportJobOut)
@api_view(["GET"])
def export_job_detail_api(request, job_id: int):
    return Response(ExportJobOut(export_job_get_for_admin(user=request.user, job_id=job_id)).data)


def _snapshot_file(snapshot: Snapshot) -> FileResponse:
    response = FileResponse(
        snapshot_open(snapshot=snapshot),
        as_attachment=True,
        filename=snapshot.file_name,
        content_type=CONTENT_TYPES[snapshot.format],
    )
    response["ETag"] = f'"{snapshot.sha256}"'
    return response


@extend_schema(responses={**DOWNLOAD_RESPONSES, 409: OpenApiResponse(description="Not finished")})
@api_view(["GET"])
@renderer_classes(DOWNLOAD_RENDERERS)
def export_job_download_api(request, job_id: int):
    job = export_job_get_for_admin(user=request.user, job_id=job_id)
    if job.status != job_layer.JobStatus.SUCCEEDED or job.snapshot is None:
        raise Conflict(f"The export is {job.status}; there is nothing to download yet.")
    return _snapshot_file(job.snapshot)


# ---------------------------------------------------------------- snapshots


@extend_schema(
    methods=["GET"],
    parameters=_filter_parameters(
        kind=ExportKind.values, file_format=ExportFormat.values, sha256=None
    ),
    responses=SnapshotOut(many=True),
)
@extend_schema(methods=["POST"], request=ExportIn, responses={201: SnapshotOut})
@api_view(["GET", "POST"])
def snapshot_list_api(request, project_id: int):
    """GET: the project's snapshots, newest first. POST: export now and freeze the file
    (answers when it is written; for a large project, POST to exports/ instead)."""
    project = project_get_for_export(user=request.user, project_id=project_id)
    if request.method == "POST":
        data = ExportIn(data=request.data)
        data.is_valid(raise_exception=True)
        snapshot = snapshot_create(
            project=project,
            kind=data.validated_data["kind"],
            options=data.options(),
            user=request.user,
        )
        return Response(SnapshotOut(snapshot).data, status=status.HTTP_201_CREATED)
    snapshots = _filtered(Snapshot.objects.filter(project=project), request, "kind", "sha256")
    if request.query_params.get("file_format"):
        snapshots = snapshots.filter(format=request.query_params["file_format"])
    return _paginated(request, snapshots.order_by("-created_at", "-id"), SnapshotOut)


@extend_schema(responses=SnapshotOut)
@api_view(["GET"])
def snapshot_detail_api(request, snapshot_id: int):
    snapshot = snapshot_get_for_admin(user=request.user, snapshot_id=snapshot_id)
    return Response(SnapshotOut(snapshot).data)


@extend_schema(responses=DOWNLOAD_RESPONSES)
@api_view(["GET"])
@renderer_classes(DOWNLOAD_RENDERERS)
def snapshot_download_api(request, snapshot_id: int):
    """The snapshot's file, sent in blocks; its ETag is the sha256 of the bytes."""
    return _snapshot_file(snapshot_get_for_admin(user=request.user, snapshot_id=snapshot_id))


@extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
@api_view(["GET"])
@renderer_classes(DOWNLOAD_RENDERERS)
def snapshot_card_api(request, snapshot_id: int):
    """The snapshot's dataset card: a README.md in the Hugging Face dataset-card format, to
    upload beside the file."""
    snapshot = snapshot_get_for_admin(user=request.user, snapshot_id=snapshot_id)
    response = HttpResponse(snapshot.card, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="README.md"'
    return response


# ---------------------------------------------------------------- dataset imports


@refuse_bodies_over_import_limit
@extend_schema(
    methods=["GET"],
    parameters=_filter_parameters(status=job_layer.JobStatus.values),
    responses=DatasetImportOut(many=True),
)
@extend_schema(
    methods=["POST"],
    request={"multipart/form-data": DatasetImportIn},
    responses={
        202: DatasetImportOut,
        413: OpenApiResponse(description="Body over the import limit."),
    },
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser])
def dataset_import_list_api(request, project_id: int):
    """POST: queue the import of a TRL-format JSONL file; poll it until it is `succeeded`,
    `failed` (`error` says why; `errors` lists each bad line; nothing was imported) or
    `cancelled`. Bodies over ARBITER_IMPORT_MAX_BYTES are refused with 413, unread."""
    project = project_get_for_export(user=request.user, project_id=project_id)
    if request.method == "POST":
        data = DatasetImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = dataset_import_create(
            project=project, user=request.user, upload=data.validated_data["file"]
        )
        return Response(DatasetImportOut(job).data, status=status.HTTP_202_ACCEPTED)
    imports = _filtered(DatasetImport.objects.filter(project=project), request, "status")
    return _paginated(request, imports.order_by("-created_at", "-id"), DatasetImportOut)


@extend_schema(responses=DatasetImportOut)
@api_view(["GET"])
def dataset_import_detail_api(request, import_id: int):
    job = dataset_import_get_for_admin(user=request.user, import_id=import_id)
    return Response(DatasetImportOut(job).data)
