from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "apps.imports"
    label = "imports"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.imports.models import ImportJob

        register_job_kind(ImportJob, task="apps.imports.tasks.run_import")
