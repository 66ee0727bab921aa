from django.db import models


class Prompt(models.Model):
    """What the model was asked: a conversation of one or more turns, the last one the user's."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="prompts"
    )
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    messages = models.JSONField(help_text='[{"role": "user", "content": "..."}, ...]')
    metadata = models.JSONField(default=dict, blank=True)
    import_job = models.ForeignKey(
        "imports.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prompts",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    @property
    def is_multi_turn(self) -> bool:
        return len(self.messages) > 1

    @property
    def text(self) -> str:
        """The last user turn: what a single-turn prompt is."""
        return self.messages[-1]["content"] if self.messages else ""

    def __str__(self) -> str:
        return self.text[:60]


class Response(models.Model):
    """One candidate answer to a prompt, with the model or source that produced it."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField()
    source = models.CharField(
        max_length=200, blank=True, help_text="Model or source that wrote it."
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.source}: {self.text[:40]}"
