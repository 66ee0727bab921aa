from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from apps.core import events
        from apps.core.jobs import register_job_kind
        from apps.webhooks.models import WebhookDelivery
        from apps.webhooks.services import webhooks_on_event

        # Every domain event may be sent to the endpoints subscribed to it.
        events.subscribe(webhooks_on_event, names=[events.ALL])
        register_job_kind(WebhookDelivery, task="apps.webhooks.tasks.deliver_webhook")
