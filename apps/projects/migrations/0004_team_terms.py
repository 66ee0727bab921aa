from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0003_project_queue_order'),
    ]

    operations = [
        migrations.AddField(
            model_name='membership',
            name='group',
            field=models.SlugField(blank=True, db_index=False),
        ),
        migrations.AddField(
            model_name='membership',
            name='qualification',
            field=models.CharField(choices=[('not_required', 'Not required'), ('pending', 'In progress'), ('passed', 'Passed'), ('failed', 'Failed')], default='not_required', max_length=12),
        ),
        migrations.AddField(
            model_name='membership',
            name='qualified_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='quota',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='project',
            name='qualification_accuracy',
            field=models.FloatField(default=0.8, help_text="Share of the qualification's gold tasks to answer right (0–1)."),
        ),
        migrations.AddField(
            model_name='project',
            name='qualification_tasks',
            field=models.PositiveSmallIntegerField(default=0, help_text='Gold tasks a new annotator answers first; their labels count once they reach the qualification accuracy on them. 0 = no qualification.'),
        ),
    ]
