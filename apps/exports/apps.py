from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "apps.exports"
    label = "exports"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.exports.models import DatasetImport, ExportJob

        register_job_kind(DatasetImport, task="apps.exports.tasks.run_dataset_import")
        register_job_kind(ExportJob, task="apps.exports.tasks.run_export")
