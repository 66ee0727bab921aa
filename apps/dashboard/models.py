"""Rollups of the judgments, kept up to date as judgments are stored and excluded, so that the
project overview reads a few small tables whatever the number of judgments.

No row here is one that every annotator of a project updates: counters are per annotator and
hour, agreement terms per unit (task), and the agreement totals per annotator (each change's
difference is added to the row of the annotator whose action caused it; only their sum means
anything), and the tasks per judgment count per shard (TaskStateCount, kept by triggers).
`manage.py rollups_recount` rebuilds all of it from the judgments and tasks."""

from django.db import models


class JudgmentRollup(models.Model):
    """Counts of one annotator's judgments of one kind and phase group, submitted in one hour.
    `annotator_key` is the annotator's user id, 0 for imported judgments without one."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    annotator_key = models.BigIntegerField()
    hour = models.DateTimeField()
    kind = models.CharField(max_length=20)
    final = models.BooleanField(help_text="The project's final phase (the one figures count).")
    n = models.IntegerField(default=0)
    excluded = models.IntegerField(default=0)
    decisive = models.IntegerField(default=0)
    first_wins = models.IntegerField(default=0)
    gold_total = models.IntegerField(default=0)
    gold_correct = models.IntegerField(default=0)
    duration_n = models.IntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.annotator_key} {self.hour:%Y-%m-%d %H}h {self.kind}: {self.n}"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "annotator_key", "hour", "kind", "final"],
                name="judgment_rollup_key",
            )
        ]


class AgreementUnit(models.Model):
    """A task's sufficient statistics for interval Krippendorff's alpha over its counted
    judgments: how many values, their sum and their sum of squares."""

    task = models.OneToOneField(
        "labeling.Task", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    m = models.IntegerField(default=0)
    s = models.FloatField(default=0)
    s2 = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"task {self.task_id}: m={self.m} s={self.s} s2={self.s2}"


class AgreementShard(models.Model):
    """A share of the project's alpha totals over pairable units (m ≥ 2): the project's totals
    are the sum of its shards."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    annotator_key = models.BigIntegerField()
    units = models.IntegerField(default=0)
    n = models.IntegerField(default=0)
    s = models.FloatField(default=0)
    s2 = models.FloatField(default=0)
    observed = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.annotator_key}: {self.units} units"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator_key"], name="agreement_shard_key")
        ]


class TaskStateCount(models.Model):
    """How many of the project's tasks hold `judgment_count` judgments, in one shard: the
    project's figure for a count is the sum over its shards (a row alone can be negative).

    Kept by database triggers on the task table (migration 0002), so every path that creates,
    judges, recounts or deletes tasks — the ORM, bulk inserts, raw SQL — counts. PostgreSQL's
    trigger runs once per statement and adds to the shard of its own backend
    (`pg_backend_pid() % 16`): concurrent submits write different rows, and no row is one that
    every annotator of a project updates. Not a database foreign key (the trigger runs while a
    project's tasks are deleted, after Django removed this table's rows); a trigger on the
    project table deletes a deleted project's rows."""

    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    shard = models.SmallIntegerField()
    judgment_count = models.IntegerField()
    tasks = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"shard {self.shard}: {self.tasks} tasks with {self.judgment_count} judgments"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "shard", "judgment_count"], name="task_state_count_key"
            )
        ]
