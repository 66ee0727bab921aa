"""What the crash-consistency suites share: kill a job at a commit boundary, then do what the
system does after a worker dies, and deliver its message again."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.jobs import SimulatedCrash, crash_at, jobs_reap, stale_after


def crash_then_deliver_again(
    deliver: Callable[[], object], *, point: str, hit: int = 1, capture_on_commit
) -> list[str]:
    """`deliver()` runs the job's task body. It dies at crash point `point` (the `hit`-th time it
    is reached); the broker delivers the message again at once (acks_late) — refused while the
    claim still looks alive, a no-op once the job is finished; once the dead claim's heartbeat
    is stale the reaper queues the job again, and the message is delivered again. Returns the
    crash points reached before the crash."""
    with crash_at(point, hit=hit) as reached, pytest.raises(SimulatedCrash):
        deliver()
    deliver()
    after_the_stale_limit = timezone.now() + stale_after() + timedelta(seconds=1)
    with capture_on_commit(execute=False):  # the reaper's message: delivered just below
        jobs_reap(now=after_the_stale_limit)
    deliver()
    return reached


def deliver_at_once(deliver: Callable[[str], object], *, times: int = 2) -> list[BaseException]:
    """Runs `deliver(worker)` in `times` threads released together (each with its own database
    connection, as separate worker processes have). Returns what they raised."""
    start = threading.Barrier(times)
    raised: list[BaseException] = []

    def one(worker: str) -> None:
        try:
            start.wait()
            deliver(worker)
        except BaseException as exc:  # reported to the test
            raised.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(f"worker-{i}",)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return raised
