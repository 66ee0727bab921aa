# ImportJob moves onto the job layer's abstract Job (apps/core/jobs.py) through the import
# pipeline's FileImport: status is the job's (queued/running/succeeded/failed/cancelled); the old
# "validating"/"writing" statuses become the `phase` of a running job whose heartbeat is unknown,
# so the reaper queues it again and it starts over (its write never committed).

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

import apps.core.jobs


def _checks_now(schema_editor):
    """Rows updated twice in this transaction would leave deferred foreign-key checks pending,
    and PostgreSQL refuses to ALTER a table with pending checks: check them as we go."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def onto_the_job_layer(apps, schema_editor):
    _checks_now(schema_editor)
    model = apps.get_model("imports", "ImportJob")
    model.objects.update(queued_at=F("created_at"))
    for phase in ("validating", "writing"):
        model.objects.filter(status=phase).update(status="running", phase=phase)
    for job in model.objects.filter(status="failed", error_count__gt=0).only("error_count"):
        count = job.error_count
        job.error = f"{count} line{'s' if count > 1 else ''} had errors; nothing was imported."
        job.save(update_fields=["error"])


def back_to_statuses(apps, schema_editor):
    _checks_now(schema_editor)
    model = apps.get_model("imports", "ImportJob")
    for phase in ("validating", "writing"):
        model.objects.filter(status="running", phase=phase).update(status=phase)
    model.objects.filter(status="running").update(status="validating")
    model.objects.filter(status="cancelled").update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="How many times a worker claimed it."
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="cancel_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="error",
            field=models.TextField(blank=True, help_text="Why it failed (or was given up)."),
        ),
        migrations.AddField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="max_attempts",
            field=models.PositiveSmallIntegerField(
                default=apps.core.jobs.default_max_attempts,
                help_text="Claims allowed before it fails for good.",
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="phase",
            field=models.CharField(
                blank=True,
                choices=[("validating", "Checking rows"), ("writing", "Writing")],
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="queued_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When it was last queued (made, requeued or retried).",
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="worker",
            field=models.CharField(blank=True, help_text="Who claimed it last.", max_length=200),
        ),
        migrations.AlterField(
            model_name="importjob",
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
        migrations.RunPython(onto_the_job_layer, back_to_statuses),
    ]
