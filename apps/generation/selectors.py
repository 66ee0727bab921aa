from django.db.models import Count, QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.core.jobs import FINISHED
from apps.corpus.models import Response
from apps.generation.models import GenerationJob, JobKind
from apps.projects.models import Role
from apps.projects.selectors import projects_for_user


def _admin_projects(user: User):
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    return projects


def generation_job_get_for_admin(*, user: User, job_id: int) -> GenerationJob:
    """The job, if the user administers its project; otherwise 404."""
    job = (
        GenerationJob.objects.filter(pk=job_id, project__in=_admin_projects(user))
        .select_related("project", "created_by")
        .defer("item_ids")  # every prompt id of the job: the pages never need them
        .first()
    )
    if job is None:
        raise Http404("No such job.")
    return job


def jobs_for_project(*, project, limit: int = 50) -> list[GenerationJob]:
    return list(
        GenerationJob.objects.filter(project=project)
        .select_related("created_by")
        .defer("item_ids")[:limit]
    )


def any_active(jobs: list[GenerationJob]) -> bool:
    return any(job.status not in FINISHED for job in jobs)


def policy_runs_for_user(*, user: User) -> QuerySet:
    """Succeeded policy runs of the projects the user administers: models they may sample."""
    from apps.training.models import RunStatus, TrainingRun

    return (
        TrainingRun.objects.filter(
            project__in=_admin_projects(user), family="policy", status=RunStatus.SUCCEEDED
        )
        .select_related("project")
        .order_by("-created_at", "-id")
    )


def job_model_counts(*, job: GenerationJob) -> list[dict]:
    """Responses this generation job wrote, per model: [{"source": ..., "n": ...}]."""
    if job.kind != JobKind.GENERATE:
        return []
    return list(
        Response.objects.filter(prompt__project_id=job.project_id, metadata__generation_job=job.pk)
        .values("source")
        .annotate(n=Count("pk"))
        .order_by("source")
    )
