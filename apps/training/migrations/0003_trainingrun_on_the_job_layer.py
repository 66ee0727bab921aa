# TrainingRun moves onto the job layer's abstract Job (apps/core/jobs.py): it already had the
# claim fields; it gains its own attempt cap and the time it was last queued.

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

import apps.core.jobs


def queued_when_created(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    TrainingRun.objects.update(queued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("training", "0002_task_scores")]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="max_attempts",
            field=models.PositiveSmallIntegerField(
                default=apps.core.jobs.default_max_attempts,
                help_text="Claims allowed before it fails for good.",
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="queued_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When it was last queued (made, requeued or retried).",
            ),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="How many times a worker claimed it."
            ),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="error",
            field=models.TextField(blank=True, help_text="Why it failed (or was given up)."),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="worker",
            field=models.CharField(blank=True, help_text="Who claimed it last.", max_length=200),
        ),
        migrations.RunPython(queued_when_created, migrations.RunPython.noop),
    ]
