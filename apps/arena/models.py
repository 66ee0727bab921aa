"""The arena: two anonymous models answer side by side in one multi-turn conversation, and the
person votes after every turn. Each vote is stored as a pairwise judgment of the project."""

from django.conf import settings
from django.db import models

from apps.chat.models import MessageStatus


class Contestant(models.Model):
    """A model the project's admins put in the arena: a generation backend config (a local model
    reference or an OpenAI-compatible endpoint of the project), named by its model."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="arena_contestants"
    )
    name = models.CharField(max_length=200, help_text="Shown only after the vote.")
    backend = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="arena_contestant_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Battle(models.Model):
    """One person's conversation with two contestants, A and B, hidden until revealed."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="arena_battles"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="arena_battles"
    )
    contestant_a = models.ForeignKey(Contestant, on_delete=models.PROTECT, related_name="+")
    contestant_b = models.ForeignKey(Contestant, on_delete=models.PROTECT, related_name="+")
    revealed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Battle {self.pk}"


class Turn(models.Model):
    """The person's message and, once voted, the vote and the side the conversation goes on
    from. `judgment` is the pairwise judgment the vote was stored as."""

    battle = models.ForeignKey(Battle, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    content = models.TextField()
    choice = models.CharField(max_length=10, blank=True)
    strength = models.CharField(max_length=20, blank=True)
    continued_from = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0 = A, 1 = B: whose answer the conversation keeps."
    )
    judgment = models.OneToOneField(
        "feedback.Judgment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["battle", "index"]
        constraints = [
            models.UniqueConstraint(fields=["battle", "index"], name="arena_turn_index_unique")
        ]

    def __str__(self) -> str:
        return f"Turn {self.index} of battle {self.battle_id}"


class Reply(models.Model):
    """One side's answer to a turn, written by a worker (`arena.generate_reply`)."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="replies")
    side = models.PositiveSmallIntegerField(help_text="0 = A, 1 = B.")
    content = models.TextField(blank=True)
    error = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempt = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["turn", "side"]
        constraints = [
            models.UniqueConstraint(fields=["turn", "side"], name="arena_reply_side_unique")
        ]

    def __str__(self) -> str:
        return f"Reply {'AB'[self.side]} to turn {self.turn_id}"
