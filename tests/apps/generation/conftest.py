import pytest


@pytest.fixture(autouse=True)
def discard_port_allowed(settings):
    """Jobs that are refused or never run name a model server at 127.0.0.1:9 (the discard port,
    where nothing listens): the operator allows that one address, as it would a LAN server."""
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:9"]
