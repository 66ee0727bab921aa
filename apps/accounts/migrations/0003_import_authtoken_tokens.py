"""The API tokens made before scoped tokens existed (DRF's authtoken, stored in plain text) keep
working: each becomes an admin-scoped token, stored as knox stores tokens (its SHA-512 digest),
expiring in 90 days. The old table is left in place; drop `authtoken_token` by hand once done."""

import hashlib
from datetime import timedelta

from django.db import migrations
from django.utils import timezone


def import_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
    expiry = timezone.now() + timedelta(days=90)
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                # knox's digest: SHA-512 of the token's UTF-8 bytes; its first 15 characters find it.
                digest=hashlib.sha512(key.encode()).hexdigest(),
                token_key=key[:15],
                user_id=user_id,
                expiry=expiry,
                name="Token made before scopes existed",
                scope="admin",
            )
            for key, user_id in rows
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_api_token")]

    operations = [migrations.RunPython(import_tokens, migrations.RunPython.noop)]
