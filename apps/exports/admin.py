from django.contrib import admin

from apps.exports.models import DatasetImport, ExportJob, Snapshot


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    """Read-only: a snapshot is immutable once written (training runs point at it)."""

    list_display = ["id", "project", "kind", "format", "row_count", "sha256", "created_at"]
    list_filter = ["kind", "format"]
    search_fields = ["sha256"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id", "project", "kind", "format", "status", "attempts", "rows_written", "created_at"
    ]  # fmt: skip
    list_filter = ["status", "kind"]


@admin.register(DatasetImport)
class DatasetImportAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "original_name", "status", "judgments_created", "created_at"]
    list_filter = ["status"]
