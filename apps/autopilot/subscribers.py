"""What autopilot does when it hears an event (registered in AutopilotConfig.ready)."""

from django.db import transaction

from apps.core.events import Event


def on_run_finished(event: Event) -> None:
    """A run ended: its rule learns how (failures switch it off), and a succeeded run goes to the
    gate on the training queue (it loads models). The beat's sweep gates any run this missed."""
    from apps.autopilot.rules import rule_run_finished
    from apps.autopilot.tasks import gate_run
    from apps.training.models import TrainingRun

    run = TrainingRun.objects.filter(pk=event.payload["run"]).first()
    if run is None:
        return
    rule_run_finished(run=run)
    if run.status == "succeeded":
        transaction.on_commit(lambda: gate_run.delay(run.pk))
