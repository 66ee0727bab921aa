import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The factories set a password on every user; the real hasher costs most of a test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
