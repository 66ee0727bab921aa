"""Autopilot: training rules that launch runs from accumulated labels, and the champion registry
that lets only better models serve."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Family(models.TextChoices):
    REWARD = "reward", _("Reward model")
    POLICY = "policy", _("Policy")


class TrainingRule(models.Model):
    """Launches a run of `objective` with `config` every `every_labels` new counted labels and/or
    on a schedule, when its guards allow. `label_watermark` is the id of the last judgment counted
    at the rule's last launch: firing moves it by compare-and-set, so one crossing launches once.
    A judgment with a lower id that committed after the launch still counts (`label_horizon`)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="training_rules"
    )
    name = models.CharField(max_length=200)
    objective = models.CharField(max_length=40)
    config = models.JSONField(
        default=dict, blank=True, help_text="The trainer config, as a launch takes it."
    )
    eval_share = models.FloatField(default=0.2)
    every_labels = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fire after this many new counted labels."
    )
    cron = models.CharField(
        max_length=100,
        blank=True,
        help_text="Fire on this schedule too (minute hour day month weekday).",
    )
    schedule = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    min_alpha = models.FloatField(null=True, blank=True)
    min_gold_accuracy = models.FloatField(null=True, blank=True)
    cooldown_minutes = models.PositiveIntegerField(default=0)
    max_runs_per_day = models.PositiveIntegerField(default=0, help_text="0: no limit.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    label_watermark = models.BigIntegerField(default=0)
    label_horizon = models.JSONField(
        default=dict,
        blank=True,
        help_text="PostgreSQL: what the last launch's snapshot saw (its xmin and xmax, and the "
        "ids it saw of transactions from its xmin on); a judgment it did not see counts toward "
        "the next crossing.",
    )
    label_floor = models.BigIntegerField(
        default=0, help_text="Every judgment the horizon did not see has a higher id than this."
    )
    launches = models.PositiveIntegerField(default=0)
    last_launched_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]
        indexes = [models.Index(fields=["enabled", "project"], name="rule_enabled_idx")]

    def __str__(self) -> str:
        return f"Rule {self.pk} ({self.name})"


class Trigger(models.TextChoices):
    LABELS = "labels", _("New labels")
    SCHEDULE = "schedule", _("Schedule")


class RuleFiring(models.Model):
    """One launch of a rule. The database holds a rule to one firing per number and per
    watermark: two checkers that both saw the crossing cannot both launch."""

    rule = models.ForeignKey(TrainingRule, on_delete=models.CASCADE, related_name="firings")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    labels = models.PositiveIntegerField(help_text="New counted labels at the crossing.")
    watermark = models.BigIntegerField()
    run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="firing_once_per_number"),
            models.UniqueConstraint(fields=["rule", "watermark"], name="firing_once_per_watermark"),
        ]
        indexes = [models.Index(fields=["rule", "created_at"], name="firing_rule_time_idx")]

    def __str__(self) -> str:
        return f"Firing {self.number} of rule {self.rule_id}"


class Champion(models.Model):
    """The run that serves a project's reward model or policy."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="champions"
    )
    family = models.CharField(max_length=10, choices=Family.choices)
    run = models.ForeignKey("training.TrainingRun", on_delete=models.PROTECT, related_name="+")
    since = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "family"], name="champion_once_per_family")
        ]

    def __str__(self) -> str:
        return f"{self.family} champion of project {self.project_id}: run {self.run_id}"


class Decision(models.TextChoices):
    PROMOTED = "promoted", _("Promoted")
    REJECTED = "rejected", _("Rejected")
    ROLLED_BACK = "rolled_back", _("Rolled back")


class ModelDecision(models.Model):
    """Every promotion, rejection and rollback: who or which rule, the metrics, the snapshot hash
    and the reason. The gate decides a run once (`gate` rows are unique per run)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    family = models.CharField(max_length=10, choices=Family.choices)
    run = models.ForeignKey(
        "training.TrainingRun", on_delete=models.CASCADE, related_name="decisions"
    )
    previous = models.ForeignKey(
        "training.TrainingRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The champion when the decision was taken.",
    )
    decision = models.CharField(max_length=12, choices=Decision.choices)
    by_gate = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        TrainingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metrics = models.JSONField(default=dict, blank=True)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=models.Q(by_gate=True), name="decision_gate_once_per_run"
            )
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="decision_project_time_idx")]

    def __str__(self) -> str:
        return f"{self.decision} run {self.run_id}"


class FrozenEvalRow(models.Model):
    """A held-out pair of the project's evaluation set, frozen the first time a gate saw its
    prompt: its label never changes afterwards, so every challenger and champion is measured on
    the same yardstick. Its prompt is on the held-out side of every snapshot's split."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    prompt_key = models.CharField(
        max_length=64, help_text="sha256 of the prompt as the trainer reads it."
    )
    row_key = models.CharField(max_length=64, help_text="sha256 of the row.")
    row = models.JSONField(help_text="prompt, chosen, rejected.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "row_key"], name="frozen_row_once")
        ]

    def __str__(self) -> str:
        return f"Frozen held-out pair {self.pk} of project {self.project_id}"


class ProjectAutopilot(models.Model):
    """The chain's stages, switched on one by one: after a reward model is promoted, train a
    policy judged by it; after a policy is promoted, start the next round with it."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="autopilot"
    )
    train_policy = models.BooleanField(default=False)
    policy_objective = models.CharField(max_length=40, default="dpo")
    policy_config = models.JSONField(default=dict, blank=True)
    base_model = models.CharField(
        max_length=500, blank=True, help_text="Where the first policy starts (a model reference)."
    )
    start_round = models.BooleanField(default=False)
    round_prompts = models.PositiveIntegerField(default=20)
    round_config = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(
        blank=True, help_text="Why the chain's last step could not start."
    )

    def __str__(self) -> str:
        return f"Autopilot of project {self.project_id}"
