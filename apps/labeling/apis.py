"""The annotator's loop over HTTP: next task, then submit (or skip). Used by scripts and bench."""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, renderer_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response

from apps.core.errors import NotFound
from apps.core.lean import (
    LeanRead,
    OrjsonParser,
    OrjsonRenderer,
    lean_json_body,
    lean_token_api,
    model_columns,
    model_from_row,
)
from apps.feedback.models import Judgment, Phase
from apps.feedback.services import judgment_submit, lease_read
from apps.labeling.selectors import labeling_view
from apps.labeling.services import assignment_skip, task_claim_next
from apps.projects.models import Project
from apps.projects.selectors import (
    project_for_member_sql,
    project_get_for_user,
    user_is_project_admin,
)

# The labeling loop's routes answer through orjson (apps/core/lean.py); a browser still gets
# DRF's browsable page.
LEAN_RENDERERS = [OrjsonRenderer, BrowsableAPIRenderer]
LEAN_PARSERS = [OrjsonParser, FormParser, MultiPartParser]


class ShownResponseOut(serializers.Serializer):
    id = serializers.IntegerField(source="response.id")
    letter = serializers.CharField()
    text = serializers.CharField(source="response.text")
    source = serializers.CharField(source="response.source")


class LeaseOut(serializers.Serializer):
    assignment = serializers.IntegerField(source="assignment.id")
    task = serializers.IntegerField(source="task.id")
    kind = serializers.CharField(source="task.kind")
    phase = serializers.CharField()
    expires_at = serializers.DateTimeField(source="assignment.expires_at")
    messages = serializers.ListField(child=serializers.DictField())
    responses = ShownResponseOut(source="shown", many=True, help_text="In display order.")
    consequence = serializers.SerializerMethodField()

    def get_consequence(self, view) -> str | None:
        return view.task.consequence if view.phase == "hindsight" else None


class JudgmentIn(serializers.Serializer):
    payload = serializers.JSONField(
        help_text='Pairwise: {"choice": "A"|"B"|"tie"|"both_bad", "strength": ...}'
    )
    critique = serializers.CharField(required=False, allow_blank=True, default="")
    duration_ms = serializers.IntegerField(
        required=False, min_value=0, allow_null=True, default=None
    )
    phase = serializers.ChoiceField(
        choices=["main", "foresight", "hindsight"], required=False, allow_null=True
    )
    written_response = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="A demonstration (demonstration projects), or a rewrite of the chosen response "
        "(projects that allow rewrites).",
    )
    edited_position = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        help_text="Canonical position (0 = A) of the response the rewrite edits; implied for one.",
    )


class JudgmentOut(serializers.ModelSerializer):
    class Meta:
        model = Judgment
        fields = [
            "id",
            "task",
            "annotator",
            "kind",
            "phase",
            "payload",
            "critique",
            "written_response",
            "edited_response",
            "edit_distance",
            "display_order",
            "duration_ms",
            "submitted_at",
            "source",
        ]


def _next_task(*, user, project_id: int, project=None) -> Response:
    project = project or project_get_for_user(user=user, project_id=project_id)
    assignment = task_claim_next(project=project, annotator=user)
    if assignment is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    lean = getattr(assignment, "lease_view", None)
    if lean is not None:
        return Response(_lease_out(assignment=assignment, view=lean))
    return Response(LeaseOut(labeling_view(assignment=assignment)).data)


def _next_task_lean(request, user, project_id: int, read) -> Response:
    if read is None:
        raise Http404("No such project.")  # as project_get_for_user
    return _next_task(user=user, project_id=project_id, project=read)


def _project_read() -> LeanRead:
    """The project, if the token's user may see it, read with the token."""
    user = get_user_model()._meta
    sql = project_for_member_sql(
        project_id="%s",
        is_superuser=f'u."{user.get_field("is_superuser").column}"',
        user_id=f'u."{user.pk.column}"',
    )
    return LeanRead(
        join=f"LEFT JOIN LATERAL ({sql}) AS p ON true",
        columns=model_columns(Project, "p"),
        params=lambda kwargs: [kwargs["project_id"]],
        build=lambda values: None if values[0] is None else model_from_row(Project, values),
    )


@lean_token_api(_next_task_lean, read=_project_read())
@extend_schema(request=None, responses={200: LeaseOut, 204: None})
@api_view(["POST"])
@renderer_classes(LEAN_RENDERERS)
@parser_classes(LEAN_PARSERS)
def next_task_api(request, project_id: int):
    """Leases the next task to the caller (the same one again while a lease is open)."""
    return _next_task(user=request.user, project_id=project_id)


_DATETIME = serializers.DateTimeField()


def _lease_out(*, assignment, view: dict) -> dict:
    """LeaseOut's fields from what the one-statement claim read (a main-phase task)."""
    return {
        "assignment": assignment.pk,
        "task": assignment.task_id,
        "kind": view["kind"],
        "phase": Phase.MAIN,
        "expires_at": _DATETIME.to_representation(assignment.expires_at),
        "messages": view["messages"],
        "responses": [
            {
                "id": shown["id"],
                "letter": chr(ord("A") + shown["position"]),
                "text": shown["text"],
                "source": shown["source"],
            }
            for shown in view["shown"]
        ],
        "consequence": None,
    }


# One of each, shared by every request: a serializer's fields are built per instance, which
# costs more than validating or writing one judgment; validating and writing keep no state.
_JUDGMENT_IN = JudgmentIn()
_JUDGMENT_OUT = JudgmentOut()


def _submit(*, user, assignment_id: int, data: dict, lease=None) -> Response:
    result = judgment_submit(assignment_id=assignment_id, annotator=user, lease=lease, **data)
    return Response(
        _JUDGMENT_OUT.to_representation(result.judgment),
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


def _submit_lean(request, user, assignment_id: int, read) -> Response | None:
    data = lean_json_body(request)
    if data is None or read is None:
        return None  # not a JSON object, or not the caller's lease: the DRF view answers
    try:
        data = _JUDGMENT_IN.run_validation(data)
    except serializers.ValidationError:
        return None  # the DRF view answers with the fields' errors
    return _submit(user=user, assignment_id=assignment_id, data=data, lease=read)


@lean_token_api(_submit_lean, read=lease_read())
@extend_schema(request=JudgmentIn, responses={201: JudgmentOut, 200: JudgmentOut})
@api_view(["POST"])
@renderer_classes(LEAN_RENDERERS)
@parser_classes(LEAN_PARSERS)
def submit_api(request, assignment_id: int):
    """Stores a judgment for a lease. 201 when stored, 200 when it was already stored."""
    data = JudgmentIn(data=request.data)
    data.is_valid(raise_exception=True)
    return _submit(user=request.user, assignment_id=assignment_id, data=data.validated_data)


@extend_schema(request=None, responses={204: None})
@api_view(["POST"])
@renderer_classes(LEAN_RENDERERS)
@parser_classes(LEAN_PARSERS)
def skip_api(request, assignment_id: int):
    assignment_skip(assignment_id=assignment_id, annotator=request.user)
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(responses=JudgmentOut(many=True))
@api_view(["GET"])
def judgment_list_api(request, project_id: int):
    """Admins see every judgment of their project; annotators only their own."""
    from rest_framework.pagination import PageNumberPagination

    project = project_get_for_user(user=request.user, project_id=project_id)
    judgments = Judgment.objects.filter(project=project).order_by("id")
    if not user_is_project_admin(user=request.user, project=project):
        judgments = judgments.filter(annotator=request.user)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(judgments, request)
    return paginator.get_paginated_response(JudgmentOut(page, many=True).data)


@extend_schema(responses=JudgmentOut)
@api_view(["GET"])
def judgment_detail_api(request, judgment_id: int):
    judgment = Judgment.objects.select_related("project").filter(pk=judgment_id).first()
    if judgment is None:
        raise NotFound("No such judgment.")
    project = project_get_for_user(user=request.user, project_id=judgment.project_id)
    if judgment.annotator_id != request.user.pk and not user_is_project_admin(
        user=request.user, project=project
    ):
        raise NotFound("No such judgment.")
    return Response(JudgmentOut(judgment).data)
