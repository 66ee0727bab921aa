# GenerationJob moves onto the job layer's abstract Job (apps/core/jobs.py): a claim records its
# worker and counts attempts (capped, like training runs); status keeps its values.

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

import apps.core.jobs


def queued_when_created(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    GenerationJob.objects.update(queued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("generation", "0005_keys_into_endpoints")]

    operations = [
        migrations.AddField(
            model_name="generationjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="How many times a worker claimed it."
            ),
        ),
        migrations.AddField(
            model_name="generationjob",
            name="max_attempts",
            field=models.PositiveSmallIntegerField(
                default=apps.core.jobs.default_max_attempts,
                help_text="Claims allowed before it fails for good.",
            ),
        ),
        migrations.AddField(
            model_name="generationjob",
            name="queued_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When it was last queued (made, requeued or retried).",
            ),
        ),
        migrations.AddField(
            model_name="generationjob",
            name="worker",
            field=models.CharField(blank=True, help_text="Who claimed it last.", max_length=200),
        ),
        migrations.AlterField(
            model_name="generationjob",
            name="error",
            field=models.TextField(blank=True, help_text="Why it failed (or was given up)."),
        ),
        migrations.RunPython(queued_when_created, migrations.RunPython.noop),
    ]
