from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "apps.judges"
    label = "judges"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.judges.models import JudgeJob

        register_job_kind(JudgeJob, task="apps.judges.tasks.run_judge_job")
