"""What the dataset API reads and writes."""

from django.urls import reverse
from rest_framework import serializers

from apps.core import jobs as job_layer
from apps.exports.models import (
    DatasetImport,
    ExportFormat,
    ExportJob,
    ExportKind,
    Snapshot,
)
from apps.exports.options import AGGREGATES_BY_KIND, FORMS, SUBSETS


class ExportIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    format = serializers.ChoiceField(choices=ExportFormat.choices, default="jsonl")
    form = serializers.ChoiceField(
        choices=FORMS,
        default="standard",
        help_text="standard: text; conversational: lists of messages (TRL's two forms).",
    )
    aggregate = serializers.ChoiceField(
        choices=sorted({a for values in AGGREGATES_BY_KIND.values() for a in values}),
        default="none",
        help_text="none: a row per judgment; otherwise a row per task. pairs: majority, "
        "mean_strength, bradley_terry; unpaired/principles: majority; listwise: mean_rank.",
    )
    split = serializers.FloatField(
        min_value=0, max_value=0.99, default=0.0, help_text="Share of prompts in the test side."
    )
    split_seed = serializers.IntegerField(default=0)
    subset = serializers.ChoiceField(choices=SUBSETS, default="all")

    def options(self) -> dict:
        data = dict(self.validated_data)
        data.pop("kind")
        return data


class SnapshotOut(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    card_url = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "project",
            "kind",
            "format",
            "options",
            "columns",
            "sha256",
            "size_bytes",
            "row_count",
            "row_counts",
            "created_by",
            "created_at",
            "download_url",
            "card_url",
        ]

    def get_download_url(self, snapshot) -> str:
        return reverse("exports-api:snapshot-download", args=[snapshot.pk])

    def get_card_url(self, snapshot) -> str:
        return reverse("exports-api:snapshot-card", args=[snapshot.pk])


class ExportJobOut(serializers.ModelSerializer):
    snapshot = SnapshotOut(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "project",
            "kind",
            "format",
            "options",
            "status",
            "rows_written",
            "error",
            "snapshot",
            "created_by",
            "created_at",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, job) -> str | None:
        if job.status != job_layer.JobStatus.SUCCEEDED:
            return None
        return reverse("exports-api:export-download", args=[job.pk])


class ExportKindOut(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    aggregates = serializers.ListField(child=serializers.CharField())


class DatasetImportIn(serializers.Serializer):
    file = serializers.FileField(
        help_text="JSONL in TRL's preference (pairwise project) or unpaired (thumbs) format."
    )


class DatasetImportOut(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = DatasetImport
        fields = [
            "id",
            "project",
            "original_name",
            "status",
            "phase",
            "attempts",
            "error",
            "percent",
            "total_rows",
            "processed_rows",
            "error_count",
            "errors",
            "prompts_created",
            "responses_created",
            "tasks_created",
            "judgments_created",
            "created_at",
            "started_at",
            "finished_at",
        ]
