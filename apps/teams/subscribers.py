"""Teams listens to judgments: a qualifying annotator's answer may complete their
qualification, which the admin then sees at once."""

from apps.core.events import Event
from apps.projects.models import Membership, Qualification
from apps.teams.services import qualification_check


def qualification_after_judgment(event: Event) -> None:
    annotator_id = event.payload.get("annotator")
    if annotator_id is None or event.project_id is None:
        return
    pending = Membership.objects.filter(
        project_id=event.project_id, user_id=annotator_id, qualification=Qualification.PENDING
    ).exists()
    if pending:
        qualification_check(project_id=event.project_id, annotator_id=annotator_id)
