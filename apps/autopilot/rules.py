"""Training rules: when a rule may fire ("why not yet"), and firing it exactly once per crossing.

Nothing here runs per submitted judgment. A beat task (`autopilot.check_rules`, every few
seconds) counts each enabled rule's new labels with one indexed query; a crossing is claimed by a
compare-and-set UPDATE of the rule's watermark and a unique (rule, number) firing row, in the same
transaction as the launch, so two checkers that both saw it launch one run between them.

Ids are allocated when a judgment is inserted, not when it commits: a submit may take id 100,
another take 101 and commit first, and a launch in between moves the watermark past 100 before
100 exists for anyone else. On PostgreSQL the launch therefore also keeps what its snapshot saw
(`label_horizon`); a judgment that snapshot did not see is counted toward the next crossing
whatever its id (`selectors.since_last_launch`), told by the transaction id PostgreSQL keeps on
every row (`xmin`): nothing is written per submit.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.autopilot.models import RuleFiring, TrainingRule, Trigger
from apps.autopilot.selectors import RuleProgress, label_horizon, new_labels, since_last_launch
from apps.core import events
from apps.core.errors import ApplicationError
from apps.feedback.models import Judgment, Phase
from apps.projects.models import FeedbackKind
from apps.quality.metrics import gold_matches, share
from apps.quality.selectors import agreement_of
from apps.training.models import FINISHED, TrainingRun
from apps.training.services import training_run_launch

log = logging.getLogger(__name__)

FAILURES_BEFORE_SWITCH_OFF = 3


def _active_run(rule: TrainingRule) -> int | None:
    return (
        TrainingRun.objects.filter(
            pk__in=RuleFiring.objects.filter(rule=rule, run__isnull=False).values("run_id")
        )
        .exclude(status__in=FINISHED)
        .values_list("pk", flat=True)
        .first()
    )


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() // 60 + (delta.total_seconds() % 60 > 0)))


def _alpha_guard(rule: TrainingRule) -> str:
    labels = new_labels(rule=rule).only("task_id", "annotator_id", "payload")
    agreement = agreement_of(kind=rule.project.kind, judgments=labels)
    if agreement.alpha is None:
        return (
            f"α not measurable yet (no new label shares a task with another) < {rule.min_alpha:g}"
        )
    if agreement.alpha < rule.min_alpha:
        return f"α {agreement.alpha:.2f} < {rule.min_alpha:g}"
    return ""


def _gold_guard(rule: TrainingRule) -> str:
    phase = Phase.HINDSIGHT if rule.project.kind == FeedbackKind.HINDSIGHT else Phase.MAIN
    gold = Judgment.objects.filter(
        since_last_launch(rule),
        project=rule.project,
        phase=phase,
        excluded_at__isnull=True,
        task__is_gold=True,
    ).select_related("task")
    results = [gold_matches(j.kind, j.payload, j.task.gold_payload or {}) for j in gold]
    accuracy = share(sum(results), len(results))
    if accuracy is None:
        return ""  # no gold task judged since the last launch: nothing to hold the labels to
    if accuracy < rule.min_gold_accuracy:
        return f"gold accuracy {accuracy:.2f} < {rule.min_gold_accuracy:g}"
    return ""


def _next_floor(rule: TrainingRule, horizon: dict) -> int:
    """An id below every judgment the new horizon does not see yet. If every transaction still
    in progress began after the last launch's snapshot (its xmin is past that one's xmax), they
    took their ids after it, above its watermark; else the last floor still holds."""
    previous = rule.label_horizon
    if not previous or (horizon and horizon["xmin"] >= previous["xmax"]):
        return rule.label_watermark
    return rule.label_floor


def rule_evaluate(
    *, rule: TrainingRule, now: datetime | None = None, trigger: str = Trigger.LABELS
) -> RuleProgress:
    """Whether the rule fires now, and the line that says why not (or what it waits for)."""
    now = now or timezone.now()
    new = new_labels(rule=rule).count()

    def state(ready: bool, why: str) -> RuleProgress:
        return RuleProgress(rule=rule, new_labels=new, ready=ready, why=why)

    if not rule.enabled:
        return state(
            False, f"switched off{': ' + rule.disabled_reason if rule.disabled_reason else ''}"
        )
    if trigger == Trigger.LABELS:
        if not rule.every_labels:
            return state(False, f"{new} new labels; fires on its schedule ({rule.cron})")
        if new < rule.every_labels:
            return state(False, f"{new} / {rule.every_labels} new labels")
    elif new == 0:
        return state(False, "no new labels since its last run")
    if (run_id := _active_run(rule)) is not None:
        return state(False, f"run {run_id} is still active")
    if rule.cooldown_minutes and rule.last_launched_at:
        ends = rule.last_launched_at + timedelta(minutes=rule.cooldown_minutes)
        if ends > now:
            return state(False, f"cooling down for {_minutes(ends - now)} min")
    if rule.max_runs_per_day:
        today = rule.firings.filter(created_at__gt=now - timedelta(days=1)).count()
        if today >= rule.max_runs_per_day:
            return state(False, f"{today} / {rule.max_runs_per_day} runs in the last 24 h")
    if rule.min_alpha is not None and (why := _alpha_guard(rule)):
        return state(False, why)
    if rule.min_gold_accuracy is not None and (why := _gold_guard(rule)):
        return state(False, why)
    return state(True, f"{new} new labels: fires at the next check")


def rule_fire(
    *, rule_id: int, trigger: str = Trigger.LABELS, now: datetime | None = None
) -> RuleFiring | None:
    """Launches the rule's run if it is ready, once per crossing: the firing row, the watermark
    move and the run commit together, and a checker that lost the compare-and-set launches
    nothing. Returns the firing, or None when it did not fire."""
    rule = TrainingRule.objects.select_related("project", "created_by").get(pk=rule_id)
    progress = rule_evaluate(rule=rule, now=now, trigger=trigger)
    if not progress.ready:
        return None
    try:
        with transaction.atomic():
            watermark, horizon = label_horizon(
                project=rule.project, after_id=rule.label_watermark, floor=rule.label_floor
            )
            floor = _next_floor(rule, horizon)
            if horizon:  # rows at or below the floor are never asked about again
                horizon["seen"] = [pk for pk in horizon["seen"] if pk > floor]
            moved = TrainingRule.objects.filter(
                pk=rule.pk,
                enabled=True,
                label_watermark=rule.label_watermark,
                launches=rule.launches,
            ).update(
                label_watermark=watermark,
                label_floor=floor,
                label_horizon=horizon,
                launches=F("launches") + 1,
                last_launched_at=timezone.now(),
            )
            if not moved:
                return None  # another checker fired this crossing
            firing = RuleFiring.objects.create(
                rule=rule,
                number=rule.launches + 1,
                trigger=trigger,
                labels=progress.new_labels,
                watermark=watermark,
            )
            run = training_run_launch(
                project=rule.project,
                user=rule.created_by,
                objective=rule.objective,
                config=rule.config,
                eval_share=rule.eval_share,
                name=f"{rule.name} · firing {firing.number}",
            )
            firing.run = run
            firing.save(update_fields=["run"])
            events.emit(
                events.EventName.RULE_FIRED,
                project_id=rule.project_id,
                payload={
                    "rule": rule.pk,
                    "firing": firing.number,
                    "trigger": trigger,
                    "labels": progress.new_labels,
                    "run": run.pk,
                },
            )
    except IntegrityError:
        return None  # the database refused a second firing of this crossing
    except ApplicationError as exc:
        # Nothing was launched (the transaction rolled back); the labels wait for the next try.
        rule_failure_record(rule_id=rule.pk, reason=f"Could not launch: {exc.message}")
        return None
    return firing


def rule_failure_record(*, rule_id: int, reason: str) -> TrainingRule:
    """One more failure in a row; the third switches the rule off, with the reason shown."""
    with transaction.atomic():
        rule = TrainingRule.objects.select_for_update().get(pk=rule_id)
        rule.consecutive_failures += 1
        rule.last_error = reason[:2000]
        fields = ["consecutive_failures", "last_error"]
        if rule.consecutive_failures >= FAILURES_BEFORE_SWITCH_OFF and rule.enabled:
            rule.enabled = False
            rule.disabled_reason = (
                f"failed {rule.consecutive_failures} times in a row; last: {reason}"
            )[:2000]
            fields += ["enabled", "disabled_reason"]
        rule.save(update_fields=fields)
    return rule


def rule_run_finished(*, run: TrainingRun) -> None:
    """A rule's run ended: a failure counts toward switching it off, a success resets the count."""
    firing = RuleFiring.objects.filter(run=run).select_related("rule").first()
    if firing is None:
        return
    if run.status == "failed":
        rule_failure_record(rule_id=firing.rule_id, reason=f"run {run.pk} failed: {run.error}")
    elif run.status == "succeeded":
        TrainingRule.objects.filter(pk=firing.rule_id).update(consecutive_failures=0, last_error="")


def rules_check() -> list[int]:
    """One pass of the beat: fires every enabled label-triggered rule that is ready. Returns the
    ids of the runs launched."""
    from apps.autopilot.models import TrainingRule as Rule

    launched = []
    for rule_id in Rule.objects.filter(enabled=True, every_labels__isnull=False).values_list(
        "pk", flat=True
    ):
        try:
            firing = rule_fire(rule_id=rule_id)
        except Exception:
            log.exception("Checking rule %s failed", rule_id)
            continue
        if firing is not None:
            launched.append(firing.run_id)
    return launched
