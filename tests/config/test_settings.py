"""The settings refuse to start without a real SECRET_KEY unless DEBUG is on, and production turns
on HTTPS-only behaviour. Each case imports the settings in a fresh process with its own environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

READ_SETTINGS = """
import json
from django.conf import settings
names = ["DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
         "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
print(json.dumps({name: getattr(settings, name, None) for name in names}))
"""


def settings_in_a_process(**env: str) -> subprocess.CompletedProcess:
    """Imports config.settings with `env` on top of a clean environment. Empty values count as
    unset, and they win over a developer's .env (which fills only variables not set)."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "ARBITER_", "SECRET"))
    }
    environment = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "",
        "SECRET_KEY": "",
        "ARBITER_PRODUCTION": "",
        "ARBITER_SECRET_KEYS": Fernet.generate_key().decode(),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read(**env: str) -> dict:
    process = settings_in_a_process(**env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("debug", ["", "false", "0"])
def test_without_a_secret_key_and_without_debug_the_app_refuses_to_start(debug):
    process = settings_in_a_process(DEBUG=debug)
    assert process.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in process.stderr


def test_production_refuses_to_start_without_a_secret_key_even_in_debug():
    process = settings_in_a_process(DEBUG="true", ARBITER_PRODUCTION="true")
    assert process.returncode != 0
    assert "SECRET_KEY is not set" in process.stderr


def test_a_debug_development_machine_starts_without_a_secret_key():
    values = read(DEBUG="true")
    assert values["DEBUG"] is True and values["SECRET_KEY"]


def test_a_given_secret_key_is_used():
    assert read(SECRET_KEY="a-long-random-key-from-the-operator")["SECRET_KEY"] == (
        "a-long-random-key-from-the-operator"
    )


def test_production_is_https_only_behind_the_proxy():
    values = read(ARBITER_PRODUCTION="true", SECRET_KEY="k" * 50)

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True


def test_outside_production_nothing_forces_https():
    values = read(SECRET_KEY="k" * 50)
    assert not values["SECURE_SSL_REDIRECT"] and not values["SECURE_HSTS_SECONDS"]
    assert values["SECURE_PROXY_SSL_HEADER"] is None
