from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_team_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="allow_rewrite",
            field=models.BooleanField(
                default=False,
                help_text="Annotators may edit the chosen (or the only) response; the edit is "
                "stored with their judgment and exports as SFT data and as an edit-beats-original "
                "pair.",
            ),
        ),
        migrations.AlterField(
            model_name="project",
            name="kind",
            field=models.CharField(
                choices=[
                    ("pairwise", "Pairwise A/B"),
                    ("listwise", "Listwise ranking"),
                    ("principles", "Binary principles"),
                    ("thumbs", "Thumbs up / down"),
                    ("hindsight", "Hindsight (foresight, then consequence)"),
                    ("chat", "Reactions in a live chat"),
                    ("demonstration", "Demonstration (write the answer)"),
                ],
                default="pairwise",
                max_length=20,
            ),
        ),
    ]
