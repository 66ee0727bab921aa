from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """A live chat between a user and the project's generation backend."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="conversations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    backend = models.JSONField(
        default=dict, help_text="The backend settings in force when it started."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conversation {self.pk} of {self.user}"


class MessageRole(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=10)
    content = models.TextField(blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True, help_text="Why the backend failed to answer, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "index"], name="message_index_unique")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ReactionKind(models.TextChoices):
    LOVE = "love", "❤️"
    THUMBS_UP = "thumbs_up", "👍"
    THUMBS_DOWN = "thumbs_down", "👎"
    LAUGH = "laugh", "😂"
    SURPRISED = "surprised", "😮"
    SAD = "sad", "😢"
    ANGRY = "angry", "😠"


class Reaction(models.Model):
    """A user's emoji on an assistant message; changing it updates the row."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ReactionKind.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="reaction_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.kind} on message {self.message_id}"
