from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """People at work on a project: invitations, assignment and quotas, qualification, and the
    work report."""

    name = "apps.teams"
    label = "teams"

    def ready(self) -> None:
        from apps.core.events import EventName, subscribe
        from apps.teams.subscribers import qualification_after_judgment

        subscribe(qualification_after_judgment, names=[EventName.JUDGMENT_SUBMITTED])
