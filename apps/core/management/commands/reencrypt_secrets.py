"""Re-encrypts every stored secret under the newest key of ARBITER_SECRET_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.crypto import SecretUnreadable, encrypted_fields, reencrypt_token


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of ARBITER_SECRET_KEYS, so that the "
        "older keys can be removed."
    )

    @transaction.atomic  # all or nothing: one unreadable secret leaves every row as it was
    def handle(self, *args, **options):
        total = 0
        for model, field in encrypted_fields():
            rows = model._default_manager.select_for_update().exclude(**{field: ""})
            count = 0
            for pk, token in rows.values_list("pk", field):
                try:
                    fresh = reencrypt_token(token)
                except SecretUnreadable as exc:
                    raise CommandError(
                        f"{model._meta.label} {pk}: {exc.message} Nothing was changed."
                    ) from None
                model._default_manager.filter(pk=pk).update(**{field: fresh})
                count += 1
            total += count
            self.stdout.write(f"{model._meta.label}.{field}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"{total} secrets now under the newest key."))
