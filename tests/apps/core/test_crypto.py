"""Secrets at rest: encrypted with the first key, readable with any, re-encrypted by a command."""

import ast
import os
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from apps.core.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from apps.generation.models import ModelEndpoint
from tests.conftest import ROOT

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))


def test_a_secret_is_stored_as_a_token_that_does_not_contain_it(settings):
    settings.ARBITER_SECRET_KEYS = [OLD]
    token = encrypt_secret("sk-live-123")
    assert "sk-live-123" not in token
    assert token != encrypt_secret("sk-live-123"), "each encryption is salted"
    assert decrypt_secret(token) == "sk-live-123"
    assert encrypt_secret("") == "" and decrypt_secret("") == ""


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    settings.ARBITER_SECRET_KEYS = [OLD]
    old_token = encrypt_secret("sk-old")
    settings.ARBITER_SECRET_KEYS = [NEW, OLD]
    new_token = encrypt_secret("sk-new")
    assert decrypt_secret(old_token) == "sk-old"
    settings.ARBITER_SECRET_KEYS = [NEW]
    assert decrypt_secret(new_token) == "sk-new"
    with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
        decrypt_secret(old_token)


def test_a_key_that_is_not_a_fernet_key_is_a_configuration_error(settings):
    settings.ARBITER_SECRET_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="key 1 is not a Fernet key"):
        encrypt_secret("x")


@pytest.mark.django_db
def test_reencrypt_secrets_moves_every_stored_key_to_the_newest_key(settings, project):
    settings.ARBITER_SECRET_KEYS = [OLD]
    endpoint = ModelEndpoint.objects.create(
        project=project,
        name="a",
        base_url="https://a.example/v1",
        api_key_encrypted=encrypt_secret("sk-a"),
    )
    ModelEndpoint.objects.create(project=project, name="b", base_url="https://b.example/v1")
    settings.ARBITER_SECRET_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "generation.ModelEndpoint.api_key_encrypted: 1 re-encrypted" in out.getvalue()
    settings.ARBITER_SECRET_KEYS = [NEW]  # the old key can go now
    endpoint.refresh_from_db()
    assert decrypt_secret(endpoint.api_key_encrypted) == "sk-a"


@pytest.mark.django_db
def test_reencrypt_secrets_changes_nothing_when_a_secret_is_unreadable(settings, project):
    settings.ARBITER_SECRET_KEYS = [STRANGER]
    lost = encrypt_secret("sk-lost")
    settings.ARBITER_SECRET_KEYS = [OLD]
    readable = encrypt_secret("sk-kept")
    ModelEndpoint.objects.create(
        project=project, name="a", base_url="https://a.example/v1", api_key_encrypted=readable
    )
    ModelEndpoint.objects.create(
        project=project, name="b", base_url="https://b.example/v1", api_key_encrypted=lost
    )
    settings.ARBITER_SECRET_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("reencrypt_secrets", stdout=StringIO())
    assert set(ModelEndpoint.objects.values_list("api_key_encrypted", flat=True)) == {
        readable,
        lost,
    }


def _settings_in_a_new_process(**env) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ARBITER_SECRET_KEYS", "ARBITER_PRODUCTION")
    }
    environment.update(env)
    code = "from django.conf import settings; print(settings.ARBITER_SECRET_KEYS)"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_keys():
    result = _settings_in_a_new_process(
        ARBITER_PRODUCTION="true", SECRET_KEY="a-production-secret-key-" + "x" * 40
    )
    assert result.returncode != 0
    assert "ARBITER_SECRET_KEYS must be set" in result.stderr


def test_development_derives_a_stable_key_from_secret_key():
    first = _settings_in_a_new_process(SECRET_KEY="dev-secret-one")
    again = _settings_in_a_new_process(SECRET_KEY="dev-secret-one")
    other = _settings_in_a_new_process(SECRET_KEY="dev-secret-two")
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout != other.stdout
    Fernet(ast.literal_eval(first.stdout)[0])  # a usable key


def test_the_system_check_reports_a_bad_secret_key_or_allow_list(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    call_command("check", stdout=StringIO())
    settings.ARBITER_SECRET_KEYS = ["short"]
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["10.0.0.0/99"]
    with pytest.raises(SystemCheckError) as error:
        call_command("check", stdout=StringIO())
    assert "arbiter.E001" in str(error.value) and "arbiter.E002" in str(error.value)
