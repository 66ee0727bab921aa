from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.jobs import Job, JobStatus


class ImportPhase(models.TextChoices):
    """Where a running import is; its life (queued → running → …) is the job layer's `status`."""

    VALIDATING = "validating", _("Checking rows")
    WRITING = "writing", _("Writing")


class FileImport(Job):
    """An uploaded JSONL file brought in by the one import pipeline (apps/imports/pipeline.py):
    every line is checked first in a streaming pass; then the rows are written in a second pass,
    in the same transaction as `succeeded`, or nothing is written and each bad line is listed."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    original_name = models.CharField(max_length=255, blank=True)
    phase = models.CharField(max_length=10, choices=ImportPhase.choices, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text='[{"line": 3, "error": "..."}]')
    error_count = models.PositiveIntegerField(default=0)
    prompts_created = models.PositiveIntegerField(default=0)
    responses_created = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(100 * self.processed_rows / self.total_rows))

    @property
    def state_label(self) -> str:
        """What a person reads: the phase while running, else the status."""
        if self.status == JobStatus.RUNNING and self.phase:
            return self.get_phase_display()
        if self.status == JobStatus.FAILED and self.error_count:
            return "Nothing imported"
        return self.get_status_display()


class ImportJob(FileImport):
    """A JSONL upload of prompts with their responses, made into tasks."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="import_jobs"
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    pair_strategy = models.CharField(max_length=10)
    max_pairs_per_prompt = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.status})"
