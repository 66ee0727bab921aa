from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class FeedbackKind(models.TextChoices):
    PAIRWISE = "pairwise", _("Pairwise A/B")
    LISTWISE = "listwise", _("Listwise ranking")
    PRINCIPLES = "principles", _("Binary principles")
    THUMBS = "thumbs", _("Thumbs up / down")
    HINDSIGHT = "hindsight", _("Hindsight (foresight, then consequence)")
    CHAT = "chat", _("Reactions in a live chat")
    DEMONSTRATION = "demonstration", _("Demonstration (write the answer)")


RESPONSE_KINDS = (
    FeedbackKind.PAIRWISE,
    FeedbackKind.LISTWISE,
    FeedbackKind.PRINCIPLES,
    FeedbackKind.THUMBS,
    FeedbackKind.HINDSIGHT,
)
PREFERENCE_KINDS = (FeedbackKind.PAIRWISE, FeedbackKind.LISTWISE, FeedbackKind.HINDSIGHT)


class PairStrategy(models.TextChoices):
    ALL = "all", _("All pairs of each prompt's responses")
    SAMPLED = "sampled", _("Sampled pairs, up to a limit per prompt")


class QueueOrder(models.TextChoices):
    FIFO = "fifo", _("In import order")
    UNCERTAINTY = "uncertainty", _("Most uncertain for the reward model(s) first")


class CritiquePolicy(models.TextChoices):
    OFF = "off", _("No critique")
    OPTIONAL = "optional", _("Critique allowed")
    REQUIRED = "required", _("Critique required")


class Project(models.Model):
    """A labeling effort: one feedback kind, its guidelines, and how many people judge each task."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    kind = models.CharField(
        max_length=20, choices=FeedbackKind.choices, default=FeedbackKind.PAIRWISE
    )
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="How many different annotators judge each task."
    )
    lease_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How long a claimed task stays reserved; empty = site default.",
    )
    pair_strategy = models.CharField(
        max_length=10, choices=PairStrategy.choices, default=PairStrategy.ALL
    )
    max_pairs_per_prompt = models.PositiveSmallIntegerField(default=6)
    critique_policy = models.CharField(
        max_length=10, choices=CritiquePolicy.choices, default=CritiquePolicy.OPTIONAL
    )
    critique_min_length = models.PositiveSmallIntegerField(default=0)
    allow_rewrite = models.BooleanField(
        default=False,
        help_text="Annotators may edit the chosen (or the only) response; the edit is stored "
        "with their judgment and exports as SFT data and as an edit-beats-original pair.",
    )
    gold_rate = models.FloatField(
        default=0.0, help_text="Share of served tasks that are gold tasks."
    )
    show_suggestions = models.BooleanField(
        default=False,
        help_text="Show annotators the reward model's scores (off by default: anchoring).",
    )
    qualification_tasks = models.PositiveSmallIntegerField(
        default=0,
        help_text="Gold tasks a new annotator answers first; their labels count once they reach "
        "the qualification accuracy on them. 0 = no qualification.",
    )
    qualification_accuracy = models.FloatField(
        default=0.8, help_text="Share of the qualification's gold tasks to answer right (0–1)."
    )
    queue_order = models.CharField(
        max_length=12, choices=QueueOrder.choices, default=QueueOrder.FIFO
    )
    generation_backend = models.JSONField(
        default=dict,
        blank=True,
        help_text='Chat backend, e.g. {"type": "openai", "base_url": ..., "model": ...}.',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("project", "user"),
        related_name="projects",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1), name="project_overlap_gte_1")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def judges_responses(self) -> bool:
        """Its tasks show responses to judge: what LLM judges label and a rubric scores (chat
        has no tasks; a demonstration task shows no response)."""
        return self.kind in RESPONSE_KINDS

    @property
    def prefers_responses(self) -> bool:
        """Its labels prefer one response over others, as a reward model's scores do: what
        the people-vs-reward-model page compares."""
        return self.kind in PREFERENCE_KINDS


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    ANNOTATOR = "annotator", _("Annotator")


class Qualification(models.TextChoices):
    NOT_REQUIRED = "not_required", _("Not required")
    PENDING = "pending", _("In progress")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")


class MembershipQuerySet(models.QuerySet):
    def uncounted(self) -> "MembershipQuerySet":
        """The memberships whose holder's labels do not count (toward overlap, in figures,
        exports and training): excluded by an admin, or not (yet) qualified. The one place that
        says so; every "counted" query excludes judgments by these."""
        return self.filter(
            models.Q(excluded_at__isnull=False)
            | models.Q(qualification__in=[Qualification.PENDING, Qualification.FAILED])
        )


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ANNOTATOR)
    # An excluded annotator's judgments stay stored but leave exports and training.
    excluded_at = models.DateTimeField(null=True, blank=True)
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Intransitive triads (A≻B, B≻C, C≻A) among this annotator's own pairwise judgments, kept
    # up to date as judgments arrive, so the dashboard reads it instead of recounting.
    intransitive_cycles = models.PositiveIntegerField(default=0)
    # Assignment: tasks reserved for a group are served only to its members.
    group = models.SlugField(max_length=50, blank=True, db_index=False)
    # At most this many tasks (judged plus leased); empty = no limit.
    quota = models.PositiveIntegerField(null=True, blank=True)
    qualification = models.CharField(
        max_length=12, choices=Qualification.choices, default=Qualification.NOT_REQUIRED
    )
    qualified_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Principle(models.Model):
    """One version of a plain-language principle. Editing makes a new row with the same `key`;
    verdicts point at the version they answered."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="principles")
    key = models.SlugField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    text = models.TextField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "key", "version"], name="principle_version_unique"
            ),
            models.UniqueConstraint(
                fields=["project", "key"],
                condition=models.Q(is_current=True),
                name="principle_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class RubricItem(models.Model):
    """A checklist item scored per response: met / partly / not met."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rubric_items")
    text = models.CharField(max_length=500)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text
