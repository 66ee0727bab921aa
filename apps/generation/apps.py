from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "apps.generation"
    label = "generation"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.generation.models import GenerationJob

        register_job_kind(GenerationJob, task="apps.generation.tasks.run_job")
