from django.http import Http404

from apps.accounts.models import User
from apps.imports.models import ImportJob
from apps.projects.models import Role
from apps.projects.selectors import projects_for_user


def import_job_get_for_admin(*, user: User, job_id: int) -> ImportJob:
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    job = (
        ImportJob.objects.filter(pk=job_id, project__in=projects).select_related("project").first()
    )
    if job is None:
        raise Http404("No such import.")
    return job
