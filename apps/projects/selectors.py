import functools

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.core import prepared
from apps.core.lean import model_columns, model_from_row
from apps.projects.models import Membership, Principle, Project, Role


def projects_for_user(*, user: User) -> QuerySet[Project]:
    """The projects a user may see: those they are a member of (superusers: all)."""
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_get_for_user(*, user: User, project_id: int, role: str | None = None) -> Project:
    """The project, if the user belongs to it (with `role`, if given); otherwise 404 — a foreign
    project is indistinguishable from a missing one."""
    if role is None and isinstance(project_id, int):
        project = _project_for_member(user=user, project_id=project_id)
        if project is None:
            raise Http404("No such project.")
        return project
    qs = projects_for_user(user=user)
    if role == Role.ADMIN and not user.is_superuser:
        qs = qs.filter(memberships__user=user, memberships__role=Role.ADMIN)
    project = qs.filter(pk=project_id).first()
    if project is None:
        raise Http404("No such project.")
    return project


def project_for_member_sql(*, project_id: str, is_superuser: str, user_id: str) -> str:
    """`projects_for_user(user=user).filter(pk=project_id)` as SQL selecting the project's
    columns (model order) as `p`, with the three values as SQL expressions."""
    return (
        f"SELECT {model_columns(Project, 'p')} FROM projects_project p WHERE p.id = {project_id} "
        f"AND ({is_superuser} OR EXISTS (SELECT 1 FROM projects_membership m "
        f"WHERE m.project_id = p.id AND m.user_id = {user_id}))"
    )


@functools.cache
def _project_for_member_sql() -> prepared.Statement:
    return prepared.Statement(
        project_for_member_sql(project_id="%s", is_superuser="%s", user_id="%s")
    )


def _project_for_member(*, user: User, project_id: int) -> Project | None:
    """`projects_for_user(user=user).filter(pk=project_id).first()` in one plain statement: the
    labeling API asks it on every request, and the ORM's compilation cost more than the query."""
    with connection.cursor() as cursor:
        prepared.execute(
            cursor, _project_for_member_sql(), [project_id, user.is_superuser, user.pk]
        )
        row = cursor.fetchone()
    return model_from_row(Project, row) if row is not None else None


def user_is_project_admin(*, user: User, project: Project) -> bool:
    return (
        user.is_superuser
        or Membership.objects.filter(project=project, user=user, role=Role.ADMIN).exists()
    )


def current_principles(*, project: Project) -> QuerySet[Principle]:
    return project.principles.filter(is_current=True).order_by("key")


def project_summary(*, project: Project) -> dict:
    """Counts an admin sees on the project page, in a handful of queries."""
    from django.db.models import Count, Q, Sum

    from apps.feedback.models import Judgment

    tasks = project.tasks.aggregate(
        total=Count("pk"),
        complete=Count("pk", filter=Q(judgment_count__gte=project.overlap)),
        judged=Sum("judgment_count"),
    )
    return {
        "prompts": project.prompts.count(),
        "tasks": tasks["total"],
        "tasks_complete": tasks["complete"],
        "judgments": Judgment.objects.filter(project=project).count(),
        "memberships": project.memberships.select_related("user").order_by(
            "role", "user__username"
        ),
        "imports": project.import_jobs.all()[:10],
    }


def principle_library(*, project: Project) -> list[dict]:
    """Each principle key with its current text (if any) and every version, newest first."""
    library: dict[str, dict] = {}
    for principle in project.principles.order_by("key", "-version"):
        entry = library.setdefault(
            principle.key, {"key": principle.key, "current": None, "versions": []}
        )
        entry["versions"].append(principle)
        if principle.is_current:
            entry["current"] = principle
    return list(library.values())
