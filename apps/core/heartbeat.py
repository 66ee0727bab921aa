"""A thread that marks a long job alive at a fixed pace, however long one step of it takes."""

import logging
import threading

from django.db import DatabaseError, connection

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """Beats for a claimed job (see apps.core.jobs.job_heartbeat) every `seconds` — by default
    ARBITER_JOB_HEARTBEAT_SECONDS — until stopped, or until the claim is no longer this one's."""

    def __init__(self, job, *, seconds: float | None = None):
        from apps.core.jobs import heartbeat_seconds

        super().__init__(daemon=True, name=f"heartbeat-{type(job).__name__}-{job.pk}")
        self.job = job
        self.seconds = heartbeat_seconds() if seconds is None else seconds
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        from apps.core.jobs import job_heartbeat

        try:
            while not self.stopped.wait(self.seconds):
                try:
                    if not job_heartbeat(self.job):
                        self.lost.set()
                        return
                except DatabaseError:
                    # A missed beat is not a dead worker; the next one may get through.
                    log.warning("Heartbeat of %s missed", self.name, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> "Heartbeat":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join(timeout=5)
