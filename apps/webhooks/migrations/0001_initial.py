# The models come from apps.exports with their rows: exports.0002 renamed the tables, so this
# migration only adds them to this app's state (and moves their content types along).

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import apps.webhooks.models

MOVED = ("webhookendpoint", "webhookdelivery")


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="webhooks", model=model).exists():
            ContentType.objects.filter(app_label="exports", model=model).update(
                app_label="webhooks"
            )


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="webhooks", model__in=MOVED).update(app_label="exports")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("exports", "0002_webhooks_move_to_their_app"),
        ("projects", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("url", models.URLField(max_length=500)),
                        ("events", models.JSONField(help_text="Event names this endpoint receives.")),
                        ("secret", models.CharField(default=apps.webhooks.models.new_secret, max_length=128)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="webhook_endpoints", to="projects.project")),
                    ],
                    options={"ordering": ["id"]},
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event", models.CharField(max_length=40)),
                        ("event_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("payload", models.JSONField()),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("succeeded", "Delivered"), ("failed", "Gave up")], default="pending", max_length=10)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("response_status", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("log", models.JSONField(default=list, help_text='[{"at": ..., "status": 200, "error": "", "ms": 12}]')),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("endpoint", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="webhooks.webhookendpoint")),
                    ],
                    options={"ordering": ["-created_at", "-id"]},
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
