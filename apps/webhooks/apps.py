from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from apps.core import events
        from apps.webhooks.services import webhooks_on_event

        # Every domain event may be sent to the endpoints subscribed to it.
        events.subscribe(webhooks_on_event, names=[events.ALL])
