from django.db import transaction
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.core.errors import ApplicationError, Conflict, PermissionDenied
from apps.projects.models import Membership, Principle, Project, Qualification, Role, RubricItem


@transaction.atomic
def project_create(
    *, creator: User, name: str, kind: str, overlap: int = 1, guidelines: str = "", **fields
) -> Project:
    """A new project, with its creator as its first admin."""
    if not (creator.is_staff or creator.is_superuser):
        raise PermissionDenied(gettext("Only staff accounts may create projects."))
    if overlap < 1:
        raise ApplicationError(gettext("Overlap must be at least 1."))
    project = Project.objects.create(
        name=name, kind=kind, overlap=overlap, guidelines=guidelines, created_by=creator, **fields
    )
    Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
    return project


def membership_set(
    *, project: Project, user: User, role: str = Role.ANNOTATOR, group: str | None = None
) -> Membership:
    """Adds the user to the project, or changes their role (and group, if given). A new
    annotator of a project with a qualification starts it (their labels count once passed)."""
    pending = role == Role.ANNOTATOR and project.qualification_tasks > 0
    defaults: dict = {"role": role} if group is None else {"role": role, "group": group}
    membership, _ = Membership.objects.update_or_create(
        project=project,
        user=user,
        defaults=defaults,
        create_defaults={
            **defaults,
            "qualification": Qualification.PENDING if pending else Qualification.NOT_REQUIRED,
        },
    )
    return membership


@transaction.atomic
def principle_save(*, project: Project, key: str, text: str) -> Principle:
    """Adds a principle, or a new version of it if the text changed; old versions stay, so
    verdicts keep pointing at the words they answered."""
    text = text.strip()
    if not text:
        raise ApplicationError(gettext("A principle needs text."))
    current = (
        Principle.objects.select_for_update()
        .filter(project=project, key=key, is_current=True)
        .first()
    )
    if current and current.text == text:
        return current
    version = 1
    if current:
        current.is_current = False
        current.save(update_fields=["is_current"])
        version = current.version + 1
    return Principle.objects.create(project=project, key=key, version=version, text=text)


KIND_LOCKED_MESSAGE = (
    "The feedback kind cannot change once the project has tasks: its tasks, pages and stored "
    "judgments are all of the current kind. Create a new project for another kind."
)


@transaction.atomic
def project_update(*, project: Project, **fields) -> Project:
    """Changes project settings. The kind is fixed once the project has tasks (every task and
    judgment has the kind it was made with); the overlap may only grow once tasks were judged,
    so that no task ends up judged past its overlap."""
    # Locked: an import adding tasks locks the same row, so "has tasks" cannot change under us.
    project = Project.objects.select_for_update().get(pk=project.pk)
    if fields.get("kind", project.kind) != project.kind and project.tasks.exists():
        raise Conflict(KIND_LOCKED_MESSAGE)
    new_overlap = fields.get("overlap", project.overlap)
    if new_overlap < 1:
        raise ApplicationError(gettext("Overlap must be at least 1."))
    if (
        new_overlap < project.overlap
        and project.tasks.filter(judgment_count__gt=new_overlap).exists()
    ):
        raise ApplicationError(gettext("Some tasks already have more judgments than that overlap."))
    for name, value in fields.items():
        setattr(project, name, value)
    project.save()
    return project


def principle_retire(*, project: Project, key: str) -> None:
    """Takes a principle out of new tasks; its versions and verdicts stay."""
    Principle.objects.filter(project=project, key=key, is_current=True).update(is_current=False)


def rubric_item_add(*, project: Project, text: str) -> RubricItem:
    text = text.strip()
    if not text:
        raise ApplicationError(gettext("A rubric item needs text."))
    position = project.rubric_items.count()
    return RubricItem.objects.create(project=project, text=text, position=position)


def rubric_item_set_active(*, project: Project, item_id: int, active: bool) -> None:
    RubricItem.objects.filter(project=project, pk=item_id).update(is_active=active)
