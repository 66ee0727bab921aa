from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    SYSTEM = "system", _("System")
    USER = "user", _("User")
    ASSISTANT = "assistant", _("Assistant")


class MessageStatus(models.TextChoices):
    """A reply's life: queued for a worker, being written by one, then done or failed. User
    turns are born done."""

    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


UNFINISHED = (MessageStatus.PENDING, MessageStatus.RUNNING)


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=10)
    content = models.TextField(blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True, help_text="Why the backend failed to answer, if it did.")
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.DONE
    )
    attempt = models.PositiveIntegerField(
        default=0, help_text="Bumped by each worker claim; only the latest claim may store."
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reply was last queued or claimed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "index"], name="message_index_unique"),
            # One reply in the works per conversation, whatever races the web processes run.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status__in=["pending", "running"]),
                name="message_one_unfinished_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ReactionKind(models.TextChoices):
    LOVE = "love", _("❤️")
    THUMBS_UP = "thumbs_up", _("👍")
    THUMBS_DOWN = "thumbs_down", _("👎")
    LAUGH = "laugh", _("😂")
    SURPRISED = "surprised", _("😮")
    SAD = "sad", _("😢")
    ANGRY = "angry", _("😠")


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
