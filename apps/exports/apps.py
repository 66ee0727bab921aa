from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "apps.exports"
    label = "exports"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.exports.models import ExportJob

        register_job_kind(ExportJob, task="apps.exports.tasks.run_export")
