"""Tokens made before scopes existed keep working after the upgrade."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

OLD_KEY = "0123456789abcdef0123456789abcdef01234567"


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _migrate_to_latest() -> None:
    """Back to the current schema: the code under test (and later tests) reads every column."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_an_authtoken_key_becomes_an_admin_token_that_still_authenticates():
    if not isinstance(settings.MIGRATION_MODULES, dict):
        pytest.skip("needs the migrations (run without --nomigrations)")
    user = UserFactory()
    _migrate(("accounts", "0002_api_token"))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s)", [OLD_KEY, user.pk])
    try:
        _migrate(("accounts", "0003_import_authtoken_tokens"))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
        _migrate_to_latest()

    token = ApiToken.objects.get(user=user)
    assert (token.scope, token.token_key) == ("admin", OLD_KEY[:15])
    assert OLD_KEY not in token.digest and token.expiry is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {OLD_KEY}")
    assert client.get("/api/projects/").status_code == 200
