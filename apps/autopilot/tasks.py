from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.autopilot.champions import run_gate
from apps.autopilot.rules import rule_fire, rules_check


@shared_task(
    name="autopilot.check_rules", queue="default", acks_late=True, reject_on_worker_lost=True
)
def check_rules() -> list[int]:
    """On beat, every few seconds: fire the rules whose labels crossed their threshold."""
    return rules_check()


@shared_task(
    name="autopilot.gate_sweep", queue="default", acks_late=True, reject_on_worker_lost=True
)
def gate_sweep(within_s: float = 86400.0) -> list[int]:
    """On beat: sends to the gate any succeeded run that has no decision a while after it ended
    (the process that heard it finish died before sending it)."""
    within = timedelta(seconds=within_s)
    from apps.autopilot.models import ModelDecision
    from apps.training.models import TrainingRun

    undecided = list(
        TrainingRun.objects.filter(
            status="succeeded",
            finished_at__gte=timezone.now() - within,
            finished_at__lt=timezone.now() - timedelta(seconds=120),
        )
        .exclude(pk__in=ModelDecision.objects.filter(by_gate=True).values("run_id"))
        .values_list("pk", flat=True)
    )
    for run_id in undecided:
        gate_run.delay(run_id)
    return undecided


@shared_task(
    name="autopilot.fire_scheduled", queue="default", acks_late=True, reject_on_worker_lost=True
)
def fire_scheduled(rule_id: int) -> int | None:
    """A rule's schedule came round (django-celery-beat): fire it if its guards allow."""
    firing = rule_fire(rule_id=rule_id, trigger="schedule")
    return firing.run_id if firing else None


@shared_task(name="training.gate_run", queue="training", acks_late=True, reject_on_worker_lost=True)
def gate_run(run_id: int) -> str | None:
    """Promotes or rejects a succeeded run (loads models: on the training queue). Twice is safe."""
    decision = run_gate(run_id=run_id)
    return decision.decision if decision else None
