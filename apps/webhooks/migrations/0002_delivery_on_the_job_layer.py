# Deliveries move onto the job layer: `pending` becomes `queued` (due at next_attempt_at),
# last_error becomes the job's `error`, and finished deliveries get their finish time.

import django.utils.timezone
from django.db import migrations, models
from django.db.models.functions import Coalesce


def to_job_states(apps, schema_editor):
    Delivery = apps.get_model("webhooks", "WebhookDelivery")
    Delivery.objects.filter(status="pending").update(
        status="queued", queued_at=Coalesce("next_attempt_at", "created_at")
    )
    Delivery.objects.filter(status="succeeded").update(
        finished_at=Coalesce("delivered_at", "created_at")
    )
    Delivery.objects.filter(status="failed").update(finished_at=models.F("created_at"))


def to_pending(apps, schema_editor):
    Delivery = apps.get_model("webhooks", "WebhookDelivery")
    Delivery.objects.filter(status__in=["queued", "running"]).update(status="pending")
    Delivery.objects.filter(status="cancelled").update(status="failed")


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.RenameField(
            model_name='webhookdelivery',
            old_name='last_error',
            new_name='error',
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='cancel_requested_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='error',
            field=models.TextField(blank=True, help_text='Why it failed (or was given up).'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='max_attempts',
            field=models.PositiveSmallIntegerField(default=6, help_text='Tries allowed before it fails for good.'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='queued_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When it was last queued (made, requeued or retried).'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='worker',
            field=models.CharField(blank=True, help_text='Who claimed it last.', max_length=200),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='How many times a worker claimed it.'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=10),
        ),
        migrations.RunPython(to_job_states, to_pending),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['status', 'queued_at'], name='delivery_status_queued_idx'),
        ),
    ]
