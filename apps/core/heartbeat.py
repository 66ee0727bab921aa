"""A thread that marks a long job alive at a fixed pace, however long one step of it takes."""

import threading

from django.db import connection
from django.utils import timezone


class Heartbeat(threading.Thread):
    """Beats for a claimed job (see apps.core.jobs.job_heartbeat) every `seconds` — by default
    ARBITER_JOB_HEARTBEAT_SECONDS — until stopped, or until the claim is no longer this one's."""

    def __init__(self, job=None, *, seconds: float | None = None, model=None, pk=None, status=None):
        from apps.core.jobs import heartbeat_seconds

        # model/pk/status: the form used before the job layer, until every kind is on it.
        self.job, self.model, self.pk, self.status = job, model, pk, status
        name = type(job).__name__ if job is not None else model.__name__
        super().__init__(daemon=True, name=f"heartbeat-{name}-{job.pk if job else pk}")
        self.seconds = heartbeat_seconds() if seconds is None else seconds
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        from apps.core.jobs import job_heartbeat

        try:
            while not self.stopped.wait(self.seconds):
                if self.job is None:
                    self.model.objects.filter(pk=self.pk, status=self.status).update(
                        heartbeat_at=timezone.now()
                    )
                elif not job_heartbeat(self.job):
                    self.lost.set()
                    return
        finally:
            connection.close()

    def __enter__(self) -> "Heartbeat":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join(timeout=5)
