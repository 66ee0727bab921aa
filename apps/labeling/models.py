from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Task(models.Model):
    """What one annotator judges at once: a prompt with 2..K responses (1 for thumbs and
    principles), optionally with a context such as a consequence revealed in hindsight."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="tasks")
    prompt = models.ForeignKey("corpus.Prompt", on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=20)
    responses = models.ManyToManyField("corpus.Response", through="TaskItem", related_name="tasks")
    consequence = models.TextField(blank=True, help_text="Revealed after the foresight judgment.")
    context = models.JSONField(default=dict, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_payload = models.JSONField(
        null=True, blank=True, help_text="The known answer of a gold task."
    )
    priority = models.FloatField(default=0.0, help_text="Lower is served first.")
    # Assignment: a task reserved for one annotator, or for a group of the project's members,
    # is served to no one else.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    assignee_group = models.SlugField(max_length=50, blank=True, db_index=False)
    # Submitted judgments, kept on the row so that "is this task full?" is a column test.
    judgment_count = models.PositiveIntegerField(default=0)
    import_job = models.ForeignKey(
        "imports.ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "priority", "id"], name="task_queue_idx"),
            # The claim's scan (apps/labeling/sql.py): gold or not first, then queue order, and
            # the count in the key so that a filled task is passed over in the index, without
            # reading its row: a claim's cost does not grow with the tasks already filled.
            models.Index(
                fields=["project", "is_gold", "priority", "id", "judgment_count"],
                name="task_open_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.kind})"


class TaskItem(models.Model):
    """A response inside a task, at its canonical position (A = 0, B = 1, ...)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="items")
    response = models.ForeignKey(
        "corpus.Response", on_delete=models.CASCADE, related_name="task_items"
    )
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["task", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "position"], name="taskitem_position_unique"),
            models.UniqueConstraint(fields=["task", "response"], name="taskitem_response_unique"),
        ]

    def __str__(self) -> str:
        return f"Task {self.task_id} position {self.position}"


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active", _("Leased")
    SUBMITTED = "submitted", _("Submitted")
    SKIPPED = "skipped", _("Skipped")
    EXPIRED = "expired", _("Expired")


class Assignment(models.Model):
    """A lease: the task is reserved for this annotator until `expires_at`. One per task and
    annotator, ever — the database refuses a second."""

    # No index of its own: assignment_once_per_annotator and assignment_slot_idx begin with it.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.ACTIVE
    )
    display_order = models.JSONField(help_text="Response ids in the order they are shown.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "annotator"], name="assignment_once_per_annotator"
            )
        ]
        indexes = [
            models.Index(fields=["task", "status", "expires_at"], name="assignment_slot_idx"),
            models.Index(
                fields=["annotator", "project"],
                condition=Q(status="active"),
                name="assignment_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on task {self.task_id} ({self.status})"


class FlagReason(models.TextChoices):
    HARMFUL = "harmful", _("Harmful or unsafe content")
    BROKEN = "broken", _("Broken or unreadable")
    OTHER = "other", _("Other")


class Flag(models.Model):
    """An annotator's report that a task has a problem; flagging also skips it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=FlagReason.choices, default=FlagReason.OTHER)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="flag_once_per_user")]

    def __str__(self) -> str:
        return f"{self.reason} flag on task {self.task_id}"
