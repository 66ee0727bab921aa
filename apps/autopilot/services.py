"""Writes: training rules (validated exactly as a launch is) and their schedules."""

import json

from django.db import transaction
from django.utils.translation import gettext
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from apps.accounts.models import User
from apps.autopilot.models import TrainingRule
from apps.autopilot.selectors import label_horizon
from apps.core.errors import ApplicationError
from apps.projects.models import Project
from apps.training.services import training_config_validate

RULE_FIELDS = (
    "name", "objective", "config", "eval_share", "every_labels", "cron", "min_alpha",
    "min_gold_accuracy", "cooldown_minutes", "max_runs_per_day", "enabled",
)  # fmt: skip


def _crontab(cron: str) -> CrontabSchedule:
    parts = cron.split()
    if len(parts) != 5:
        raise ApplicationError(
            gettext("A schedule has five fields (minute hour day month weekday), not %(cron)r.")
            % {"cron": cron}
        )
    minute, hour, day_of_month, month_of_year, day_of_week = parts
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
        day_of_week=day_of_week, timezone="UTC",
    )  # fmt: skip
    try:
        schedule.schedule  # noqa: B018 (celery parses the fields here)
    except Exception as exc:
        raise ApplicationError(
            gettext("Invalid schedule %(cron)r: %(exc)s") % {"cron": cron, "exc": exc}
        ) from None
    return schedule


def _schedule_sync(rule: TrainingRule) -> None:
    """Mirrors the rule's cron line into django-celery-beat's table (the beat reads it)."""
    if not rule.cron:
        if rule.schedule_id:
            PeriodicTask.objects.filter(pk=rule.schedule_id).delete()
        return
    crontab = _crontab(rule.cron)
    defaults = {
        "crontab": crontab,
        "task": "autopilot.fire_scheduled",
        "args": json.dumps([rule.pk]),
        "queue": "default",
        "enabled": rule.enabled,
    }
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"autopilot rule {rule.pk}", defaults=defaults
    )
    if rule.schedule_id != task.pk:
        TrainingRule.objects.filter(pk=rule.pk).update(schedule=task)
        rule.schedule = task


def _validate(project: Project, values: dict) -> None:
    if not values.get("name"):
        raise ApplicationError(gettext("Name the rule."))
    if not values.get("every_labels") and not values.get("cron"):
        raise ApplicationError(
            gettext("Give the rule a trigger: every N new labels, a schedule, or both.")
        )
    for name in ("min_alpha", "min_gold_accuracy"):
        value = values.get(name)
        if value is not None and not -1 <= value <= 1:
            raise ApplicationError(gettext("%(name)s must be between -1 and 1.") % {"name": name})
    training_config_validate(
        project=project,
        objective=values["objective"],
        config=values.get("config") or {},
        eval_share=values.get("eval_share", 0.2),
    )


@transaction.atomic
def training_rule_create(*, project: Project, user: User, **values) -> TrainingRule:
    """A rule counts labels from now on: those already stored trained the runs before it."""
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ApplicationError(
            gettext("Unknown rule fields: %(values)s.") % {"values": ", ".join(sorted(unknown))}
        )
    _validate(project, values)
    # Labels the database shows now trained the runs before the rule; newer ids count.
    watermark, horizon = label_horizon(project=project, floor=None)
    rule = TrainingRule.objects.create(
        project=project,
        created_by=user,
        label_watermark=watermark,
        label_floor=watermark,
        label_horizon=horizon,
        **values,
    )
    _schedule_sync(rule)
    return rule


@transaction.atomic
def training_rule_update(*, rule: TrainingRule, **values) -> TrainingRule:
    """Changes a rule; switching it on again clears its failures and the reason it was off."""
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ApplicationError(
            gettext("Unknown rule fields: %(values)s.") % {"values": ", ".join(sorted(unknown))}
        )
    rule = TrainingRule.objects.select_for_update().get(pk=rule.pk)
    merged = {name: getattr(rule, name) for name in RULE_FIELDS} | values
    _validate(rule.project, merged)
    if values.get("enabled") and not rule.enabled:
        rule.consecutive_failures, rule.disabled_reason, rule.last_error = 0, "", ""
    for name, value in values.items():
        setattr(rule, name, value)
    rule.save()
    _schedule_sync(rule)
    return rule


@transaction.atomic
def training_rule_delete(*, rule: TrainingRule) -> None:
    if rule.schedule_id:
        PeriodicTask.objects.filter(pk=rule.schedule_id).delete()
    rule.delete()
