"""Reads for exports: what may leave the project, and the stored snapshots, jobs and imports."""

import hashlib
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.chat.models import Reaction
from apps.core.errors import ApplicationError, PermissionDenied
from apps.exports.models import (
    DatasetImport,
    ExportJob,
    Snapshot,
)
from apps.feedback.models import Judgment
from apps.projects.models import Membership, Project, Role
from apps.projects.selectors import project_get_for_user, projects_for_user


def _excluded_member(user_field: str) -> Exists:
    """The row's user is a member of the row's project whose labels do not count (excluded, or
    not qualified)."""
    return Exists(
        Membership.objects.uncounted().filter(
            project_id=OuterRef("project_id"), user_id=OuterRef(user_field)
        )
    )


def judgments_for_export(*, project: Project) -> QuerySet[Judgment]:
    """The judgments that may leave the project: not on gold tasks, not excluded themselves,
    not by an excluded annotator. Imported judgments (no annotator) are kept."""
    return (
        Judgment.objects.filter(project=project, excluded_at__isnull=True, task__is_gold=False)
        .alias(by_excluded=_excluded_member("annotator_id"))
        .filter(by_excluded=False)
    )


def reactions_for_export(*, project: Project) -> QuerySet[Reaction]:
    """Reactions on the project's assistant messages, except those of excluded members."""
    excluded = Exists(
        Membership.objects.uncounted().filter(project=project, user_id=OuterRef("user_id"))
    )
    return (
        Reaction.objects.filter(message__conversation__project=project, message__role="assistant")
        .alias(by_excluded=excluded)
        .filter(by_excluded=False)
    )


def admin_projects(*, user: User) -> QuerySet[Project]:
    projects = projects_for_user(user=user)
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    return projects


def project_get_for_export(*, user: User, project_id: int) -> Project:
    """The project, if the user administers it. A project the user does not belong to answers
    404; a member who is not an admin gets 403 (exports are admin-only)."""
    project = project_get_for_user(user=user, project_id=project_id)
    if not admin_projects(user=user).filter(pk=project.pk).exists():
        raise PermissionDenied("Only the project's admins may export or import its datasets.")
    return project


def _get_for_admin(queryset: QuerySet, *, user: User, pk: int, what: str):
    obj = queryset.filter(pk=pk, project__in=admin_projects(user=user)).first()
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def snapshot_get_for_admin(*, user: User, snapshot_id: int) -> Snapshot:
    return _get_for_admin(
        Snapshot.objects.select_related("project"), user=user, pk=snapshot_id, what="snapshot"
    )


def export_job_get_for_admin(*, user: User, job_id: int) -> ExportJob:
    return _get_for_admin(
        ExportJob.objects.select_related("project", "snapshot"), user=user, pk=job_id, what="export"
    )


def dataset_import_get_for_admin(*, user: User, import_id: int) -> DatasetImport:
    return _get_for_admin(
        DatasetImport.objects.select_related("project"), user=user, pk=import_id, what="import"
    )


def snapshot_path(*, snapshot: Snapshot) -> Path:
    return Path(settings.MEDIA_ROOT) / snapshot.file_path


def snapshot_open(*, snapshot: Snapshot, verify: bool = False) -> IO[bytes]:
    """The snapshot's bytes, opened for reading. With `verify`, the file is hashed first and a
    file that no longer matches its sha256 is refused."""
    path = snapshot_path(snapshot=snapshot)
    if not path.is_file():
        raise ApplicationError(f"The file of snapshot {snapshot.pk} is missing.")
    if verify:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != snapshot.sha256:
            raise ApplicationError(f"The file of snapshot {snapshot.pk} does not match its hash.")
    return path.open("rb")
