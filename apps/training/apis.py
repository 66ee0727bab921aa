from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user
from apps.training.model_choices import model_choices
from apps.training.models import TrainingRun
from apps.training.selectors import run_curves, run_get_for_admin
from apps.training.services import training_run_cancel, training_run_launch


class RunOut(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    snapshot_sha256 = serializers.CharField(source="snapshot.sha256", default=None, read_only=True)

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "name", "objective", "family", "config", "status", "percent", "step",
                  "total_steps", "epoch", "loss", "eta_seconds", "metrics", "error", "snapshot",
                  "snapshot_sha256", "train_rows", "eval_rows", "attempts", "worker", "created_at",
                  "started_at", "finished_at"]  # fmt: skip


class RunIn(serializers.Serializer):
    objective = serializers.CharField()
    config = serializers.DictField(required=False, default=dict)
    eval_share = serializers.FloatField(required=False, default=0.2, min_value=0.05, max_value=0.5)
    reward_run = serializers.IntegerField(required=False, allow_null=True, default=None)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    judges_weight = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0.0,
        max_value=1.0,
        help_text="Also train on the LLM judges' pairs at this weight (people's: 1); null: not.",
    )


@extend_schema(request=RunIn, responses={200: RunOut(many=True), 201: RunOut})
@api_view(["GET", "POST"])
def run_list_api(request, project_id: int):
    """A project's runs (admins); POST launches one on the training queue."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    if request.method == "POST":
        data = RunIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = training_run_launch(
            project=project,
            user=request.user,
            objective=values["objective"],
            config=values["config"],
            eval_share=values["eval_share"],
            reward_run_id=values["reward_run"],
            name=values["name"],
            judges_weight=values["judges_weight"],
        )
        return Response(RunOut(run).data, status=status.HTTP_201_CREATED)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(
        TrainingRun.objects.filter(project=project).select_related("snapshot"), request
    )
    return paginator.get_paginated_response(RunOut(page, many=True).data)


class ModelChoiceOut(serializers.Serializer):
    reference = serializers.CharField(help_text="What to pass wherever a model is wanted.")
    label = serializers.CharField()
    group = serializers.CharField()


class ModelQuery(serializers.Serializer):
    family = serializers.ChoiceField(choices=["policy", "reward"], default="policy")
    adapters = serializers.BooleanField(default=False)


@extend_schema(parameters=[ModelQuery], responses=ModelChoiceOut(many=True))
@api_view(["GET"])
def model_list_api(request, project_id: int):
    """The models this project may use, as references to pass wherever a model is wanted
    (`config.model`, `config.reward_model`, a local model for chat or generation): its succeeded
    runs of `family`, the operator's base models and the locally cached ones. Paths are refused.
    `adapters=true` adds LoRA adapter folders (generation and chat load them)."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    query = ModelQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    choices = model_choices(project=project, **query.validated_data)
    return Response(ModelChoiceOut(choices, many=True).data)


@extend_schema(responses=RunOut)
@api_view(["GET"])
def run_detail_api(request, run_id: int):
    return Response(RunOut(run_get_for_admin(user=request.user, run_id=run_id)).data)


@extend_schema(request=None, responses=RunOut)
@api_view(["POST"])
def run_cancel_api(request, run_id: int):
    return Response(
        RunOut(training_run_cancel(run=run_get_for_admin(user=request.user, run_id=run_id))).data
    )


@extend_schema(responses={200: dict})
@api_view(["GET"])
def run_curves_api(request, run_id: int):
    """{metric name: [[step, value], ...]}"""
    run = run_get_for_admin(user=request.user, run_id=run_id)
    return Response(run_curves(run_ids=[run.pk]).get(run.pk, {}))
