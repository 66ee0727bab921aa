import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("corpus", "0001_initial"),
        ("feedback", "0002_judgment_derived_facts"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgment",
            name="written_response",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="judgment",
            name="edited_response",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="corpus.response",
            ),
        ),
        migrations.AddField(
            model_name="judgment",
            name="edit_distance",
            field=models.FloatField(blank=True, null=True),
        ),
    ]
