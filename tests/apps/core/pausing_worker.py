"""The real Celery app, for worker tests that kill a pool process mid-job: each pool process
holds the job at the crash point named in ARBITER_TEST_PAUSE_AT when it reaches it for the
ARBITER_TEST_PAUSE_HIT-th time (default 1), once: it leaves the flag file ARBITER_TEST_PAUSE_FLAG
holding its pid, so that the test knows where the job stands when it kills that process. Start it with start_worker(..., app="tests.apps.core.pausing_worker",
pool="prefork")."""

import os
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]


@worker_process_init.connect
def _hold_at_the_pause_point(**kwargs) -> None:
    from apps.core import jobs

    point, flag = os.environ["ARBITER_TEST_PAUSE_AT"], Path(os.environ["ARBITER_TEST_PAUSE_FLAG"])
    hit = int(os.environ.get("ARBITER_TEST_PAUSE_HIT", "1"))
    seen = []

    def hold(reached: str) -> None:
        if reached == point:
            seen.append(reached)
        if reached == point and len(seen) == hit and not flag.exists():
            flag.write_text(str(os.getpid()))
            time.sleep(600)  # until the test kills this process

    jobs._crash_hook = hold
