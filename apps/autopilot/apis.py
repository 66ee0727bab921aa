from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from apps.autopilot.chains import autopilot_configure
from apps.autopilot.champions import champion_promote, champion_rollback
from apps.autopilot.models import Champion, Family, ModelDecision, ProjectAutopilot, TrainingRule
from apps.autopilot.rules import rule_evaluate
from apps.autopilot.services import (
    training_rule_create,
    training_rule_delete,
    training_rule_update,
)
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_user


class RuleOut(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField(help_text="Why it has not fired yet.")
    new_labels = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRule
        fields = ["id", "project", "name", "objective", "config", "eval_share", "every_labels",
                  "cron", "min_alpha", "min_gold_accuracy", "cooldown_minutes", "max_runs_per_day",
                  "enabled", "disabled_reason", "launches", "last_launched_at",
                  "consecutive_failures", "last_error", "progress", "new_labels", "created_at"]  # fmt: skip

    def _progress(self, rule):
        cache = self.context.setdefault("progress", {})
        if rule.pk not in cache:
            cache[rule.pk] = rule_evaluate(rule=rule)
        return cache[rule.pk]

    def get_progress(self, rule) -> str:
        return self._progress(rule).why

    def get_new_labels(self, rule) -> int:
        return self._progress(rule).new_labels


class RuleIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    objective = serializers.CharField(max_length=40)
    config = serializers.DictField(required=False, default=dict)
    eval_share = serializers.FloatField(required=False, default=0.2, min_value=0.05, max_value=0.5)
    every_labels = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, default=None
    )
    cron = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    min_alpha = serializers.FloatField(required=False, allow_null=True, default=None)
    min_gold_accuracy = serializers.FloatField(required=False, allow_null=True, default=None)
    cooldown_minutes = serializers.IntegerField(required=False, default=0, min_value=0)
    max_runs_per_day = serializers.IntegerField(required=False, default=0, min_value=0)
    enabled = serializers.BooleanField(required=False, default=True)


def _rule_for_admin(request, project_id: int, rule_id: int) -> TrainingRule:
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    rule = (
        TrainingRule.objects.filter(project=project, pk=rule_id).select_related("project").first()
    )
    if rule is None:
        raise Http404("No such rule.")
    return rule


@extend_schema(request=RuleIn, responses={200: RuleOut(many=True), 201: RuleOut})
@api_view(["GET", "POST"])
def rule_list_api(request, project_id: int):
    """A project's training rules, each with its "why not yet" line (admins); POST adds one,
    validated exactly as a launch is."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    if request.method == "POST":
        data = RuleIn(data=request.data)
        data.is_valid(raise_exception=True)
        rule = training_rule_create(project=project, user=request.user, **data.validated_data)
        return Response(RuleOut(rule).data, status=status.HTTP_201_CREATED)
    rules = TrainingRule.objects.filter(project=project).select_related("project")
    return Response(RuleOut(rules, many=True).data)


@extend_schema(request=RuleIn, responses={200: RuleOut, 204: None})
@api_view(["GET", "PATCH", "DELETE"])
def rule_detail_api(request, project_id: int, rule_id: int):
    rule = _rule_for_admin(request, project_id, rule_id)
    if request.method == "DELETE":
        training_rule_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        data = RuleIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rule = training_rule_update(rule=rule, **data.validated_data)
    return Response(RuleOut(rule).data)


class DecisionOut(serializers.ModelSerializer):
    class Meta:
        model = ModelDecision
        fields = ["id", "family", "run", "previous", "decision", "by_gate", "actor", "rule",
                  "metrics", "snapshot_sha256", "reason", "created_at"]  # fmt: skip


class ChampionsOut(serializers.Serializer):
    reward = serializers.IntegerField(allow_null=True, help_text="The serving reward run.")
    policy = serializers.IntegerField(allow_null=True, help_text="The serving policy run.")
    decisions = DecisionOut(many=True)


class PromoteIn(serializers.Serializer):
    run = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


def _champions(project) -> dict:
    serving = dict(Champion.objects.filter(project=project).values_list("family", "run_id"))
    decisions = ModelDecision.objects.filter(project=project)[:100]
    return {
        "reward": serving.get(Family.REWARD),
        "policy": serving.get(Family.POLICY),
        "decisions": DecisionOut(decisions, many=True).data,
    }


@extend_schema(request=PromoteIn, responses={200: ChampionsOut, 201: DecisionOut})
@api_view(["GET", "POST"])
def champion_list_api(request, project_id: int):
    """The runs serving the project and every promotion, rejection and rollback (newest first);
    POST promotes a succeeded run by hand."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    if request.method == "POST":
        data = PromoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        decision = champion_promote(
            project=project,
            run_id=data.validated_data["run"],
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(DecisionOut(decision).data, status=status.HTTP_201_CREATED)
    return Response(_champions(project))


class RollbackIn(serializers.Serializer):
    family = serializers.ChoiceField(choices=Family.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


@extend_schema(request=RollbackIn, responses={201: DecisionOut})
@api_view(["POST"])
def champion_rollback_api(request, project_id: int):
    """The champion before the current one serves again."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    data = RollbackIn(data=request.data)
    data.is_valid(raise_exception=True)
    decision = champion_rollback(project=project, actor=request.user, **data.validated_data)
    return Response(DecisionOut(decision).data, status=status.HTTP_201_CREATED)


class ChainSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectAutopilot
        fields = ["train_policy", "policy_objective", "policy_config", "base_model",
                  "start_round", "round_prompts", "round_config", "last_error"]  # fmt: skip
        read_only_fields = ["last_error"]


@extend_schema(request=ChainSerializer, responses=ChainSerializer)
@api_view(["GET", "PATCH"])
def chain_api(request, project_id: int):
    """The chain's stages: after a promoted reward model, train a policy judged by it
    (`train_policy`); after a promoted policy, start the next round with it (`start_round`)."""
    project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
    current = ProjectAutopilot.objects.filter(project=project).first() or ProjectAutopilot(
        project=project
    )
    if request.method == "PATCH":
        data = ChainSerializer(current, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        current = autopilot_configure(project=project, **data.validated_data)
    return Response(ChainSerializer(current).data)
