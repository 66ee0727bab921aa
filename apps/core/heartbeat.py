"""A thread that marks a long job alive at a fixed pace, however long one step of it takes."""

import threading

from django.db import connection
from django.utils import timezone


class Heartbeat(threading.Thread):
    """Sets `heartbeat_at` on the row every `seconds` while it is in `status`."""

    def __init__(self, *, model, pk: int, status: str, seconds: float):
        super().__init__(daemon=True, name=f"heartbeat-{model.__name__}-{pk}")
        self.model, self.pk, self.status, self.seconds = model, pk, status, seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.seconds):
                self.model.objects.filter(pk=self.pk, status=self.status).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()

    def __enter__(self) -> "Heartbeat":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join(timeout=5)
