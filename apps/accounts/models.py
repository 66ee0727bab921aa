from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken


class User(AbstractUser):
    """An Arbiter account. Staff users may create projects; roles inside a project live on
    `projects.Membership`."""

    # Empty: the browser's language (Accept-Language). Set on the account settings page.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )


class TokenScope(models.TextChoices):
    READ = "read", _("Read: look at everything you may see, change nothing")
    LABEL = "label", _("Label: read, take tasks, submit judgments, chat")
    ADMIN = "admin", _("Admin: everything your roles in each project allow")


class ApiToken(AbstractAuthToken):
    """A personal API token made by its user on their tokens page.

    django-rest-knox stores only the token's SHA-512 digest (the primary key) and its first
    characters (`token_key`, shown to tell tokens apart); the token itself is shown once, at
    creation. It stops working at `expiry`, or when revoked (the row is deleted).
    """

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. a script.")
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}) of {self.user}"
