# Webhook endpoints and deliveries move to apps.webhooks: their tables are renamed (rows kept)
# and the models leave this app's state; webhooks.0001 takes them into its state.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable("webhookendpoint", "webhooks_webhookendpoint"),
                migrations.AlterModelTable("webhookdelivery", "webhooks_webhookdelivery"),
            ],
            state_operations=[
                migrations.DeleteModel("WebhookDelivery"),
                migrations.DeleteModel("WebhookEndpoint"),
            ],
        )
    ]
