from django.apps import AppConfig


class AutopilotConfig(AppConfig):
    name = "apps.autopilot"
    label = "autopilot"

    def ready(self) -> None:
        from apps.autopilot import subscribers
        from apps.core import events

        # Rules listen to runs, never to single judgments: no work is added to a submit.
        events.subscribe(subscribers.on_run_finished, names=[events.EventName.RUN_FINISHED])
