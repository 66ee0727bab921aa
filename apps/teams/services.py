"""Writes about people at work on a project: invitations, who may get which tasks (assignment
and quotas), and qualification checks."""

import hashlib
import math
import secrets
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.core.errors import ApplicationError, Conflict, NotFound
from apps.labeling.models import Task
from apps.labeling.qualification import membership_qualification_evaluate
from apps.labeling.services import annotator_tasks_recount
from apps.projects.models import Membership, Project, Qualification, Role
from apps.projects.services import membership_set
from apps.teams.models import Invitation

# How long an invitation link may live, in days: the choices offered, and the default.
INVITATION_LIFETIMES = (1, 7, 30)
DEFAULT_INVITATION_LIFETIME = 7


class InvitationRefused(ApplicationError):
    """The link cannot be used: unknown, used already, or expired. The message says which."""

    status = 410


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def group_clean(group: str) -> str:
    """A group name as stored: a slug (e.g. "Linguists NL" → "linguists-nl")."""
    return slugify(group or "")[:50]


@transaction.atomic
def invitation_create(
    *,
    project: Project,
    by: User,
    role: str = Role.ANNOTATOR,
    email: str = "",
    group: str = "",
    days: int = DEFAULT_INVITATION_LIFETIME,
) -> tuple[Invitation, str]:
    """A single-use invitation to the project with `role`, valid for `days`. Returns the row and
    the link's secret, stored only as a digest: the caller shows (or sends) it once."""
    if role not in Role.values:
        raise ApplicationError(gettext("Unknown role %(role)r.") % {"role": role})
    if days not in INVITATION_LIFETIMES:
        raise ApplicationError(
            gettext("An invitation lives %(values)s days; not %(days)s.")
            % {"values": ", ".join(map(str, INVITATION_LIFETIMES)), "days": days}
        )
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        role=role,
        email=(email or "").strip(),
        group=group_clean(group),
        digest=_digest(secret),
        created_by=by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return invitation, secret


def invitation_send(*, invitation: Invitation, link: str) -> None:
    """Emails the link to the invitation's address (through Django's email backend), once the
    transaction that made it commits. Nothing to do without an address."""
    if not invitation.email:
        return
    project, inviter = invitation.project, invitation.created_by
    subject = f"{inviter.get_username()} invites you to “{project.name}” on Arbiter"
    body = (
        f"{inviter.get_username()} invites you to join the project “{project.name}” as "
        f"{invitation.get_role_display().lower()}.\n\n"
        f"Open this link to accept (it works once, until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n\n{link}\n"
    )
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [invitation.email], fail_silently=False)
    )


def invitation_for_link(*, secret: str, lock: bool = False) -> Invitation:
    """The open invitation behind a link; InvitationRefused says why when it cannot be used."""
    qs = Invitation.objects.select_related("project", "created_by")
    if lock:
        qs = qs.select_for_update(of=("self",))
    invitation = qs.filter(digest=_digest(secret or "")).first()
    if invitation is None:
        raise InvitationRefused("This invitation link is not valid. Ask for a new one.")
    if invitation.accepted_at is not None:
        raise InvitationRefused(
            "This invitation was used already: each link works once. Log in, or ask for a new one."
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationRefused(
            f"This invitation expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask the project's admins for a new one."
        )
    return invitation


@transaction.atomic
def invitation_accept(
    *,
    secret: str,
    user: User | None = None,
    username: str = "",
    password: str = "",
) -> tuple[User, Membership]:
    """Uses the invitation: the signed-in `user` joins the project, or, without one, a new
    account (`username`, `password`) is made and joins it. Works once (the row is locked, so
    two concurrent accepts cannot both pass). An existing member keeps their role."""
    invitation = invitation_for_link(secret=secret, lock=True)
    if user is None:
        username = (username or "").strip()
        if not username:
            raise ApplicationError(gettext("Choose a username."))
        if User.objects.filter(username__iexact=username).exists():
            raise ApplicationError(
                gettext(
                    "The username %(username)r is taken. Choose another, or log in first "
                    "if it is yours."
                )
                % {"username": username}
            )
        candidate = User(username=username, email=invitation.email)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ApplicationError(" ".join(exc.messages)) from exc
        candidate.set_password(password)
        candidate.save()
        user = candidate
    membership = Membership.objects.filter(project=invitation.project, user=user).first()
    if membership is None:
        membership = membership_set(
            project=invitation.project,
            user=user,
            role=invitation.role,
            group=invitation.group,
        )
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return user, membership


@transaction.atomic
def invitation_revoke(*, project: Project, invitation_id: int) -> None:
    """Deletes an unused invitation of the project: its link stops working."""
    deleted, _ = Invitation.objects.filter(
        project=project, pk=invitation_id, accepted_at__isnull=True
    ).delete()
    if not deleted:
        raise NotFound(gettext("No such open invitation in this project."))


@transaction.atomic
def member_terms_set(
    *, project: Project, user_id: int, quota: int | None, group: str
) -> Membership:
    """Sets a member's quota (None = no limit) and group. Their claims lock the same row, so a
    new quota applies from their next claim on."""
    membership = (
        Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    )
    if membership is None:
        raise NotFound(gettext("No such member of this project."))
    if quota is not None and quota < 0:
        raise ApplicationError(gettext("A quota is a number of tasks, 0 or more."))
    membership.quota, membership.group = quota, group_clean(group)
    membership.save(update_fields=["quota", "group"])
    return membership


def _annotators(*, project: Project, user_ids: list[int]) -> list[int]:
    found = set(
        Membership.objects.filter(project=project, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise NotFound(gettext("Only members of this project can be assigned tasks."))
    return list(dict.fromkeys(user_ids))


@transaction.atomic
def tasks_assign(
    *, project: Project, task_ids: list[int], annotator_id: int | None = None, group: str = ""
) -> int:
    """Reserves the project's tasks `task_ids` for one annotator or for a group (neither:
    frees them for everyone). A lease already open on one of them runs its course. Returns
    how many tasks changed."""
    group = group_clean(group)
    if annotator_id is not None and group:
        raise ApplicationError(gettext("Assign to an annotator or to a group, not both."))
    if annotator_id is not None:
        _annotators(project=project, user_ids=[annotator_id])
    return Task.objects.filter(project=project, pk__in=task_ids).update(
        assignee_id=annotator_id, assignee_group=group
    )


@transaction.atomic
def project_share_assign(
    *, project: Project, share: float, annotator_ids: list[int] = (), group: str = ""
) -> int:
    """Reserves `share` (0–1) of the project's open tasks (not gold, not full, not reserved yet),
    in queue order: dealt in turn to the named annotators, or all to a group. Returns how many
    tasks were reserved."""
    group = group_clean(group)
    if not 0 < share <= 1:
        raise ApplicationError(
            gettext("The share is a fraction of the open tasks, above 0 and up to 1.")
        )
    if bool(annotator_ids) == bool(group):
        raise ApplicationError(gettext("Name some annotators or a group (one of the two)."))
    annotators = _annotators(project=project, user_ids=list(annotator_ids)) if annotator_ids else []
    open_tasks = Task.objects.filter(
        project=project,
        is_gold=False,
        judgment_count__lt=project.overlap,
        assignee__isnull=True,
        assignee_group="",
    ).order_by("priority", "id")
    count = open_tasks.count()
    take = math.ceil(count * share - 1e-9)
    ids = list(open_tasks.values_list("pk", flat=True)[:take])
    if group:
        return Task.objects.filter(pk__in=ids).update(assignee_group=group)
    for turn, annotator_id in enumerate(annotators):
        Task.objects.filter(pk__in=ids[turn :: len(annotators)]).update(assignee_id=annotator_id)
    return len(ids)


@transaction.atomic
def qualification_check(*, project_id: int, annotator_id: int) -> str | None:
    """Evaluates the annotator's qualification now (after one of their judgments), locking
    their membership as a claim does: passing makes their labels count. None for a
    non-member."""
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(project_id=project_id, user_id=annotator_id)
        .first()
    )
    if membership is None:
        return None
    before = membership.qualification
    state = membership_qualification_evaluate(project=membership.project, membership=membership)
    if before == Qualification.PENDING and state == Qualification.PASSED:
        annotator_tasks_recount(project=membership.project, annotator_id=annotator_id)
    return state


@transaction.atomic
def qualification_reset(*, project: Project, user_id: int) -> Membership:
    """Lets a member take the qualification again (e.g. after a failure): pending again, their
    labels stop counting until they pass."""
    membership = (
        Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    )
    if membership is None:
        raise NotFound(gettext("No such member of this project."))
    if membership.role != Role.ANNOTATOR or project.qualification_tasks == 0:
        raise Conflict(gettext("Only annotators of a project with a qualification take one."))
    membership.qualification, membership.qualified_at = Qualification.PENDING, None
    membership.save(update_fields=["qualification", "qualified_at"])
    annotator_tasks_recount(project=project, annotator_id=user_id)
    return membership
