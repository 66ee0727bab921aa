from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedSecretField
from apps.core.jobs import Job, JobStatus


class JobKind(models.TextChoices):
    GENERATE = "generate", _("Generate responses")
    CONSEQUENCES = "consequences", _("Simulate consequences")


class Selection(models.TextChoices):
    """Which prompts a generation job samples for, or which tasks a consequence job fills."""

    ALL = "all", _("All")
    WITHOUT_RESPONSES = "without_responses", _("Prompts without responses yet")
    WITHOUT_CONSEQUENCE = "without_consequence", _("Tasks without a consequence yet")
    LISTED = "listed", _("The listed prompt ids")


class Pairing(models.TextChoices):
    ALL = "all", _("Pairs among all new responses of a prompt")
    ACROSS_MODELS = "across_models", _("Only pairs of responses from different models")


class ConsequenceTarget(models.TextChoices):
    RESPONSES = "responses", _("Each response (shown under it in hindsight)")
    TASKS = "tasks", _("Each task (one consequence for the task)")


class GenerationJob(Job):
    """Sampling from one or more models for a project's prompts (kind "generate"), or writing
    simulated consequences for a hindsight project's tasks (kind "consequences"), on a worker.

    The selection is frozen when the job is made (`item_ids`), so progress has a fixed total and
    a rerun knows what is left: a prompt (or response, or task) already written by this job is
    skipped, found by the job id stored on what it wrote.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="generation_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=JobKind.choices, default=JobKind.GENERATE)
    backends = models.JSONField(
        default=list,
        help_text='The models sampled: [{"name": ..., "config": {backend config}, '
        '"training_run": id or null}]',
    )
    n_per_prompt = models.PositiveSmallIntegerField(default=2)
    temperature = models.FloatField(default=0.7)
    top_p = models.FloatField(default=1.0)
    max_tokens = models.PositiveIntegerField(default=256)
    batch_size = models.PositiveSmallIntegerField(default=8)
    selection = models.CharField(max_length=20, choices=Selection.choices, default=Selection.ALL)
    item_ids = models.JSONField(
        default=list,
        help_text="Frozen at creation: prompt ids (generate) or task ids (consequences).",
    )
    # Generation: how the new responses of a prompt become tasks.
    pair_strategy = models.CharField(max_length=10, blank=True)
    max_pairs_per_prompt = models.PositiveSmallIntegerField(default=6)
    pairing = models.CharField(max_length=14, choices=Pairing.choices, default=Pairing.ALL)
    # Consequences: what is written, and the prompt the model gets.
    target = models.CharField(
        max_length=10, choices=ConsequenceTarget.choices, default=ConsequenceTarget.RESPONSES
    )
    template = models.TextField(blank=True)

    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    responses_created = models.PositiveIntegerField(default=0)
    responses_unused = models.PositiveIntegerField(
        default=0, help_text="Empty or repeated replies: stored, but left out of tasks."
    )
    tasks_created = models.PositiveIntegerField(default=0)
    consequences_written = models.PositiveIntegerField(default=0)
    tasks_updated = models.PositiveIntegerField(
        default=0, help_text="Consequence jobs: tasks whose consequence this job set."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"], name="genjob_project_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        return min(99, int(100 * self.done / self.total)) if self.total else 0

    @property
    def model_names(self) -> list[str]:
        return [entry["name"] for entry in self.backends]


class Round(models.Model):
    """One turn of the online loop: a policy writes answers to a fresh batch of prompts, people
    judge them, a reward model and a new policy train on the labels. The new policy's win rate
    against its base is its win rate against the previous round's policy."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    generating_run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The policy that wrote this round's responses (empty: the base model).",
    )  # fmt: skip
    base_model = models.CharField(
        max_length=500, blank=True, help_text="Used when no policy run generates."
    )
    generation_job = models.ForeignKey(
        GenerationJob, on_delete=models.PROTECT, related_name="rounds"
    )
    reward_run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="round_number_unique")
        ]

    def __str__(self) -> str:
        return f"Round {self.number} of {self.project}"


class ModelEndpoint(models.Model):
    """An OpenAI-compatible server a project calls (vLLM, Ollama, llama.cpp, OpenAI), with its
    API key encrypted at rest. Chat backends and generation jobs refer to it by id, and the key
    is decrypted only when a request is sent; it is never shown again. A key belongs to its URL:
    changing the URL drops the key."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="model_endpoints"
    )
    name = models.CharField(max_length=200)
    base_url = models.CharField(max_length=500, help_text="The API root, e.g. https://host/v1.")
    api_key_encrypted = EncryptedSecretField(help_text="Fernet token of the API key; empty: none.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "base_url"], name="endpoint_url_unique"),
            models.UniqueConstraint(fields=["project", "name"], name="endpoint_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)
