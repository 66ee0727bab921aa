from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from apps.projects.models import CritiquePolicy, FeedbackKind, PairStrategy, Project, Role
from apps.projects.selectors import project_get_for_user, projects_for_user
from apps.projects.services import project_create, project_update


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "overlap",
            "guidelines",
            "pair_strategy",
            "max_pairs_per_prompt",
            "critique_policy",
            "critique_min_length",
            "allow_rewrite",
            "created_at",
        ]


class ProjectIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=FeedbackKind.choices, default=FeedbackKind.PAIRWISE)
    overlap = serializers.IntegerField(min_value=1, max_value=100, default=1)
    guidelines = serializers.CharField(required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    pair_strategy = serializers.ChoiceField(choices=PairStrategy.choices, default=PairStrategy.ALL)
    max_pairs_per_prompt = serializers.IntegerField(min_value=1, max_value=100, default=6)
    allow_rewrite = serializers.BooleanField(default=False)


@extend_schema(request=ProjectIn, responses={200: ProjectOut(many=True), 201: ProjectOut})
@api_view(["GET", "POST"])
def project_list_api(request):
    if request.method == "POST":
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(creator=request.user, **data.validated_data)
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)
    projects = projects_for_user(user=request.user).order_by("-created_at")
    return Response(ProjectOut(projects, many=True).data)


class ProjectUpdateIn(serializers.Serializer):
    """Settings an admin may change; any subset. `kind` is refused (409) once tasks exist."""

    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=FeedbackKind.choices, required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=100, required=False)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    pair_strategy = serializers.ChoiceField(choices=PairStrategy.choices, required=False)
    max_pairs_per_prompt = serializers.IntegerField(min_value=1, max_value=100, required=False)
    critique_policy = serializers.ChoiceField(choices=CritiquePolicy.choices, required=False)
    critique_min_length = serializers.IntegerField(min_value=0, max_value=10000, required=False)
    allow_rewrite = serializers.BooleanField(required=False)


@extend_schema(methods=["PATCH"], request=ProjectUpdateIn, responses={200: ProjectOut, 409: None})
@extend_schema(methods=["GET"], responses=ProjectOut)
@api_view(["GET", "PATCH"])
def project_detail_api(request, project_id: int):
    """The project; PATCH (admins) changes its settings."""
    if request.method == "PATCH":
        project = project_get_for_user(user=request.user, project_id=project_id, role=Role.ADMIN)
        data = ProjectUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(ProjectOut(project_update(project=project, **data.validated_data)).data)
    return Response(ProjectOut(project_get_for_user(user=request.user, project_id=project_id)).data)
