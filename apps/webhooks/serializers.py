"""What the webhook API reads and writes."""

from rest_framework import serializers

from apps.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1
    )


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "project", "url", "events", "is_active", "created_at"]


class WebhookCreatedOut(WebhookOut):
    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]


class WebhookDeliveryOut(serializers.ModelSerializer):
    # The name the API always had for the last try's failure (the job layer's `error`).
    last_error = serializers.CharField(source="error", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "payload",
            "status",
            "attempts",
            "max_attempts",
            "response_status",
            "last_error",
            "log",
            "created_at",
            "delivered_at",
            "next_attempt_at",
        ]
