import importlib

from django.apps import AppConfig
from django.conf import settings


class TrainingConfig(AppConfig):
    name = "apps.training"
    label = "training"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind
        from apps.labeling.selectors import scores_source_set
        from apps.training.models import TrainingRun
        from apps.training.services import run_log, training_run_finished
        from apps.training.suggestions import task_stored_scores

        # Runs are jobs: the reaper and retry send them to this task; their log and their end.
        register_job_kind(
            TrainingRun,
            task="apps.training.tasks.run_training",
            note=run_log,
            on_finished=training_run_finished,
        )
        # The labeling page shows the latest reward-model scores as suggestions.
        scores_source_set(task_stored_scores)
        # The operator's verifiable reward checkers, so launches can name them and workers run them.
        for module in settings.ARBITER_REWARD_CHECKER_MODULES:
            importlib.import_module(module)
