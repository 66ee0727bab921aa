import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Snapshots and uploads go to the test's own folder, never to var/storage."""
    settings.MEDIA_ROOT = tmp_path / "media"
