"""LLM judges: model annotators whose labels are kept apart from people's.

A judge's labels are `JudgeLabel` rows, never `feedback.Judgment` rows: overlap, leases, the
quality table, exports and training see only people unless an export asks for judges
(`include_judges`, with a weight).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.jobs import Job, JobStatus


class JudgeBackend(models.TextChoices):
    ENDPOINT = "endpoint", _("OpenAI-compatible endpoint")
    LOCAL = "local", _("Local model (transformers)")
    REWARD_MODEL = "reward_model", _("The project's reward model")


class Judge(models.Model):
    """A model that labels a project's tasks, with the prompt template an admin edits per kind.

    `config` is stored as generation backends store theirs: an endpoint judge names the project's
    ModelEndpoint (URL and Fernet-encrypted key live there), a local judge a model reference
    (`base:…`, `run:…`), a reward-model judge a reward run id (empty: the project's champion).
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="judges")
    name = models.CharField(max_length=100)
    backend = models.CharField(max_length=20, choices=JudgeBackend.choices)
    config = models.JSONField(default=dict, blank=True)
    templates = models.JSONField(
        default=dict, blank=True, help_text="Prompt template per feedback kind (empty: default)."
    )
    prelabel = models.BooleanField(
        default=False,
        help_text="Show this judge's labels to annotators as suggestions (off: anchoring).",
    )
    batch_size = models.PositiveSmallIntegerField(default=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="judge_name_unique")
        ]

    def __str__(self) -> str:
        return f"Judge {self.name}"


class JudgeJob(Job):
    """A judge labelling a frozen list of tasks, each in both orders, on a worker — or, with a
    `policy_run`, comparing a policy's answers with its base model's; a rerun skips what the
    job has already judged (each batch commits whole)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="judge_jobs"
    )
    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    item_ids = models.JSONField(default=list, help_text="Task ids, frozen at creation.")
    batch_size = models.PositiveSmallIntegerField(default=16)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    labels_written = models.PositiveIntegerField(default=0)
    unparsed = models.PositiveIntegerField(
        default=0, help_text="Replies that gave no verdict: stored with their reply, no payload."
    )
    # A policy evaluation instead of labelling: the run's policy and its base model answer the
    # frozen prompts (item_ids are prompt ids then), and the judge compares the two answers.
    policy_run = models.ForeignKey(
        "training.TrainingRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="judge_evaluations",
    )
    results = models.JSONField(
        default=dict,
        blank=True,
        help_text="Policy evaluations: settings, each prompt's score and the win rate so far.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"], name="judgejob_project_status_idx")]

    def __str__(self) -> str:
        return f"Judge job {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        return min(99, int(100 * self.done / self.total)) if self.total else 0


class Order(models.TextChoices):
    FORWARD = "ab", _("As stored (A first)")
    REVERSED = "ba", _("Reversed (last first)")


class JudgeLabel(models.Model):
    """One judge's verdict on one task in one order. `payload` is in canonical positions, as a
    person's judgment is (feedback.payloads), whatever order the judge saw; null when the reply
    gave no verdict. The facts beside it make position bias a plain aggregate."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="labels")
    task = models.ForeignKey("labeling.Task", on_delete=models.CASCADE, related_name="judge_labels")
    job = models.ForeignKey(
        JudgeJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="labels"
    )
    order = models.CharField(max_length=2, choices=Order.choices)
    display_order = models.JSONField(default=list, help_text="Canonical positions as shown.")
    payload = models.JSONField(null=True, blank=True)
    reply = models.TextField(blank=True, help_text="What the model answered (trimmed).")
    # Pairwise facts: the verdict as one number (+4 A much better … −4 B much better, 0 tie),
    # and whether the response shown first won a decisive verdict.
    signed_strength = models.FloatField(null=True, blank=True)
    first_shown_won = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "order"]
        constraints = [
            models.UniqueConstraint(fields=["judge", "task", "order"], name="judgelabel_once")
        ]
        indexes = [models.Index(fields=["project", "judge"], name="judgelabel_project_idx")]

    def __str__(self) -> str:
        return f"{self.judge} on task {self.task_id} ({self.order})"
