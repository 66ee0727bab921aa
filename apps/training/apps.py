from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "apps.training"
    label = "training"

    def ready(self) -> None:
        from apps.labeling.selectors import scores_source_set
        from apps.training.suggestions import task_stored_scores

        # The labeling page shows the latest reward-model scores as suggestions.
        scores_source_set(task_stored_scores)
