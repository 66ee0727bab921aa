from django.conf import settings
from django.db import models

from apps.projects.models import Role


class Invitation(models.Model):
    """A link that makes its holder a member of the project with `role`, once, until
    `expires_at`. Only the SHA-256 digest of the link's secret is stored: the link itself is
    shown (and emailed) once, when it is made."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ANNOTATOR)
    group = models.SlugField(max_length=50, blank=True, db_index=False)
    email = models.EmailField(blank=True, help_text="Where the link was sent, if anywhere.")
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation to {self.project} as {self.role}"


class OidcIdentity(models.Model):
    """Which account a single sign-on identity (the provider's `sub`) signs in to. Accounts are
    matched by this, never by email: an email claim alone must not open an existing account."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} → {self.user}"
