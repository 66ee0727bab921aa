"""Datasets leaving (and entering) Arbiter: frozen snapshots, background export jobs, and imports
of TRL-format datasets."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.jobs import Job
from apps.imports.models import FileImport


class ExportKind(models.TextChoices):
    PAIRS = "pairs", _("Preference pairs (prompt, chosen, rejected, margin)")
    HINDSIGHT_PAIRS = "hindsight_pairs", _("Hindsight preference pairs")
    UNPAIRED = "unpaired", _("Unpaired binary (prompt, completion, label)")
    LISTWISE = "listwise", _("Listwise (prompt, responses, ranks)")
    PRINCIPLES = "principles", _("Principles (prompt, response, principle, verdict)")
    HINDSIGHT = "hindsight", _("Hindsight: foresight and hindsight judgments with the consequence")
    REACTIONS = "reactions", _("Chat reactions with their conversations")
    SFT = "sft", _("SFT from demonstrations and rewrites (prompt, completion)")
    SFT_MESSAGES = "sft_messages", _("SFT from demonstrations and rewrites (messages)")
    EDIT_PAIRS = "edit_pairs", _("Edit beats original (prompt, chosen=edit, rejected, margin)")
    RAW = "raw", _("Raw judgments")


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", _("JSON Lines")
    PARQUET = "parquet", _("Parquet")


class Snapshot(models.Model):
    """An export frozen as a file that never changes: `sha256` is the hash of its bytes, and the
    same data with the same options always gives the same bytes. Training runs record the
    snapshot they used."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="snapshots"
    )
    kind = models.CharField(max_length=20, choices=ExportKind.choices)
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    options = models.JSONField(help_text="The export options in normal form (every key).")
    columns = models.JSONField(default=list)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    row_count = models.PositiveIntegerField()
    row_counts = models.JSONField(
        default=dict, help_text='{"rows": n, "train": n, "test": n, "skipped": {reason: n}}'
    )
    # Relative to MEDIA_ROOT; content-addressed, so equal snapshots share one file.
    file_path = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    card = models.TextField(
        blank=True,
        help_text="README.md in the Hugging Face dataset-card format, written when frozen.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "kind"], name="snapshot_project_kind_idx")]

    @property
    def file_name(self) -> str:
        return f"project{self.project_id}-{self.kind}-{self.sha256[:12]}.{self.format}"

    def __str__(self) -> str:
        return f"Snapshot {self.pk} ({self.kind}, {self.sha256[:12]})"


class ExportJob(Job):
    """An export requested through the API and written by a worker; its result is a snapshot."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="export_jobs"
    )
    kind = models.CharField(max_length=20, choices=ExportKind.choices)
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    options = models.JSONField()
    rows_written = models.PositiveIntegerField(default=0)
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.kind}, {self.status})"


class DatasetImport(FileImport):
    """A dataset in TRL's formats (preference or unpaired) brought in as prompts, responses,
    tasks and imported judgments, by the one import pipeline (apps/imports/pipeline.py)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="dataset_imports"
    )
    file = models.FileField(upload_to="dataset-imports/%Y/%m/")
    judgments_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Dataset import {self.pk} ({self.status})"


def _new_secret() -> str:
    """Kept for migration 0001; webhooks (and their secrets) live in apps.webhooks now."""
    import secrets

    return secrets.token_hex(32)
