from django.conf import settings
from django.db import models

from apps.core.jobs import FINISHED as FINISHED
from apps.core.jobs import Job, JobStatus

# A run's life is a job's (apps/core/jobs.py); the name stays for the code that reads runs.
RunStatus = JobStatus


class TrainingRun(Job):
    """One reward-model or policy training run on a frozen snapshot of a project's labels."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=200, blank=True)
    objective = models.CharField(max_length=40)
    family = models.CharField(max_length=10, help_text="reward or policy")
    config = models.JSONField(help_text="The trainer config, as launched.")
    snapshot = models.ForeignKey(
        "exports.Snapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    train_rows = models.PositiveIntegerField(default=0)
    eval_rows = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    epoch = models.FloatField(default=0.0)
    loss = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Held-out evaluation at the end."
    )
    output_dir = models.CharField(
        max_length=500, blank=True, help_text="Relative to the storage root."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"], name="run_project_status_idx")]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.objective}, {self.status})"

    @property
    def percent(self) -> int:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        return min(99, int(100 * self.step / self.total_steps)) if self.total_steps else 0


class RunMetric(models.Model):
    """One point of a curve: a metric's value at a step (loss, learning rate, held-out figures)."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="points")
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    value = models.FloatField()

    class Meta:
        ordering = ["run", "name", "step"]
        indexes = [models.Index(fields=["run", "name", "step"], name="runmetric_curve_idx")]

    def __str__(self) -> str:
        return f"{self.name}@{self.step}={self.value:.4g}"


class RunLogLine(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="log_lines")
    created_at = models.DateTimeField(auto_now_add=True)
    line = models.TextField()

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return self.line[:60]


class TaskScore(models.Model):
    """A reward model's scores for a task's responses, in canonical position order."""

    task = models.ForeignKey("labeling.Task", on_delete=models.CASCADE, related_name="scores")
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="task_scores")
    scores = models.JSONField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "run"], name="taskscore_once_per_run")
        ]

    def __str__(self) -> str:
        return f"Scores of task {self.task_id} by run {self.run_id}"
