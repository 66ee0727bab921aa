# ExportJob moves onto the job layer's abstract Job (apps/core/jobs.py): the claim, heartbeat and
# cancel fields are added; status keeps its values (an export was never validating or writing).

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

import apps.core.jobs


def queued_when_created(apps, schema_editor):
    ExportJob = apps.get_model("exports", "ExportJob")
    ExportJob.objects.update(queued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("exports", "0002_webhooks_move_to_their_app")]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="How many times a worker claimed it."
            ),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="cancel_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="max_attempts",
            field=models.PositiveSmallIntegerField(
                default=apps.core.jobs.default_max_attempts,
                help_text="Claims allowed before it fails for good.",
            ),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="queued_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When it was last queued (made, requeued or retried).",
            ),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="worker",
            field=models.CharField(blank=True, help_text="Who claimed it last.", max_length=200),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="error",
            field=models.TextField(blank=True, help_text="Why it failed (or was given up)."),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.RunPython(queued_when_created, migrations.RunPython.noop),
    ]
