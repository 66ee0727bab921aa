"""Teams listens to judgments: a qualifying annotator's answer may complete their
qualification, which the admin then sees at once (without waiting for their next claim)."""

from apps.core.events import Event
from apps.teams.services import qualification_check


def qualification_after_judgment(event: Event) -> None:
    annotator_id = event.payload.get("annotator")
    # A counted label's annotator is not qualifying: nothing to check, and no query.
    if event.payload.get("counted", True) or annotator_id is None or event.project_id is None:
        return
    qualification_check(project_id=event.project_id, annotator_id=annotator_id)
