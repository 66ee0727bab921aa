from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "apps.judges"
    label = "judges"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.judges.models import JudgeJob
        from apps.judges.selectors import task_judge_suggestions
        from apps.labeling.selectors import judge_suggestions_source_set

        register_job_kind(JudgeJob, task="apps.judges.tasks.run_judge_job")
        # The labeling page shows pre-labelling judges' verdicts (off unless a judge opts in).
        judge_suggestions_source_set(task_judge_suggestions)
