import pytest

from tests.apps.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    made = []

    def make(statuses=(200,)):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def allow_private(settings):
    settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE = True
