"""Secrets encrypted at rest (API keys of model servers), with keys that rotate.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the keys in
ARBITER_SECRET_KEYS: the first encrypts, every one decrypts (MultiFernet). To rotate, put a new
key first, run `manage.py reencrypt_secrets`, then drop the old key. Without the setting, outside
production, config/settings.py derives a development key from SECRET_KEY.

A secret is stored as its Fernet token in an `EncryptedSecretField` and decrypted only where it
is sent, never to be shown: pages and API answers say whether one is set, not what it is.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.db import models

from apps.core.errors import ApplicationError

KEYS_SETTING = "ARBITER_SECRET_KEYS"


class SecretUnreadable(ApplicationError):
    """No configured key decrypts a stored secret (its key was dropped too early)."""

    status = 500


class EncryptedSecretField(models.TextField):
    """A text column holding a Fernet token, or "" for no secret. The model stores and reads the
    token; `encrypt_secret` / `decrypt_secret` turn it into text, and `reencrypt_secrets` finds
    every such column by this class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    from django.core.exceptions import ImproperlyConfigured

    if not keys:
        raise ImproperlyConfigured(f"{KEYS_SETTING} is empty: secrets cannot be encrypted.")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{KEYS_SETTING}: key {position} is not a Fernet key (32 url-safe base64 bytes; "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())").'
            ) from None
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    from django.conf import settings

    return _fernet_for(tuple(getattr(settings, KEYS_SETTING, ()) or ()))


def encrypt_secret(text: str) -> str:
    """The token to store for `text` ("" stays "": no secret)."""
    if not text:
        return ""
    return _fernet().encrypt(text.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The secret a stored token holds ("" for none); SecretUnreadable if no key opens it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"A stored secret cannot be decrypted with the keys in {KEYS_SETTING}; was its key "
            "removed before `manage.py reencrypt_secrets` ran? Enter the secret again."
        ) from None


def reencrypt_token(token: str) -> str:
    """The same secret under the first (newest) key."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"A stored secret cannot be decrypted with the keys in {KEYS_SETTING}."
        ) from None


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that stores an encrypted secret."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedSecretField)
    ]
