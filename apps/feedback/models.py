from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    MAIN = "main", _("Judgment")
    FORESIGHT = "foresight", _("Foresight")
    HINDSIGHT = "hindsight", _("Hindsight")


class JudgmentSource(models.TextChoices):
    APP = "app", _("Judged in the app")
    IMPORT = "import", _("Imported with a dataset")


class Judgment(models.Model):
    """One annotator's answer to one task (per phase). The payload's shape depends on the kind
    and is validated by `apps.feedback.payloads` before it is stored."""

    # No index of their own: the indexes below that begin with them serve their lookups, and
    # every judgment stored would update two more.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    task = models.ForeignKey(
        "labeling.Task", on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="judgments",
    )
    assignment = models.ForeignKey(
        "labeling.Assignment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judgments",
    )
    kind = models.CharField(max_length=20)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.MAIN)
    # A hindsight judgment points at the foresight judgment it follows.
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_phase"
    )
    payload = models.JSONField()
    critique = models.TextField(blank=True)
    # The annotator's own response: an edit of `edited_response` (rewrite mode), or, with no
    # edited response, an answer written from scratch (a demonstration project).
    written_response = models.TextField(blank=True)
    edited_response = models.ForeignKey(
        "corpus.Response", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Word-level edit distance of the edit from the original over the longer one's word count
    # (0 = unchanged … 1 = nothing kept): the margin of the edit-beats-original pair.
    edit_distance = models.FloatField(null=True, blank=True)
    display_order = models.JSONField(default=list, help_text="Response ids in the order shown.")
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time on task.")
    # Facts derived from payload and display order when the judgment is stored, so that quality
    # figures (position bias, cycles, leaderboards) are plain SQL aggregates.
    first_shown_position = models.PositiveSmallIntegerField(null=True, blank=True)
    chosen_position = models.PositiveSmallIntegerField(null=True, blank=True)
    # A pairwise verdict as one number (+4 = A much better … −4 = B much better, 0 = tie).
    signed_strength = models.FloatField(null=True, blank=True)
    chosen_response = models.ForeignKey(
        "corpus.Response", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejected_response = models.ForeignKey(
        "corpus.Response", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(
        max_length=10, choices=JudgmentSource.choices, default=JudgmentSource.APP
    )
    source_name = models.CharField(max_length=200, blank=True)
    excluded_at = models.DateTimeField(null=True, blank=True)
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "annotator", "phase"], name="judgment_once_per_annotator_phase"
            )
        ]
        indexes = [
            models.Index(fields=["project", "submitted_at"], name="judgment_project_time_idx"),
            models.Index(fields=["project", "annotator"], name="judgment_project_annotator_idx"),
        ]

    def __str__(self) -> str:
        return f"Judgment {self.pk} on task {self.task_id}"
