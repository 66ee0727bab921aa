import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import ProjectFactory, StaffFactory, UserFactory, add_member

ROOT = Path(__file__).resolve().parent.parent


CHROMIUM = "/usr/bin/chromium"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the browser and
# security tests make around it are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium for the whole session (tests/browser, tests/security)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The default hasher costs half a second per user on these CPUs; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_api_throttles(settings):
    """Tests make requests faster than any client should; throttle tests set their own rates."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "auth": None},
    }


@pytest.fixture
def admin_user(db):
    return StaffFactory()


@pytest.fixture
def project(admin_user):
    from apps.projects.models import Membership, Role

    project = ProjectFactory(created_by=admin_user)
    Membership.objects.create(project=project, user=admin_user, role=Role.ADMIN)
    return project


@pytest.fixture
def annotator(project):
    return add_member(project, UserFactory())


def database_url_for_subprocess() -> str:
    """The test database as a URL, so that a worker or server process shares it."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


def subprocess_env(**extra) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "PYTHONUNBUFFERED": "1",
        # The storage root the test has now: a worker writes its files where the test reads them.
        "ARBITER_STORAGE_ROOT": str(settings.MEDIA_ROOT),
        # The operator's model roots as the test has them now (tests/models_offered.py).
        "ARBITER_MODEL_ROOTS": ",".join(settings.ARBITER_MODEL_ROOTS),
        # The operator's outbound allow-list as the test has it now (a fake model server's).
        "ARBITER_OUTBOUND_ALLOW_HOSTS": ",".join(settings.ARBITER_OUTBOUND_ALLOW_HOSTS),
        **extra,
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


class WorkerProcess:
    """A real Celery worker process on the configured broker, reading the test database."""

    def __init__(self, *, queues: str, log_path: Path, name: str, app="config", pool="solo", **env):
        # pool="prefork" runs each task in a child process, which a test may kill mid-job.
        self.log_path = log_path
        self._out = log_path.open("w")
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues,
            f"--pool={pool}", "--concurrency=1", "--without-heartbeat", "--without-mingle",
            "--without-gossip", "-l", "INFO", "-n", f"{name}-{os.getpid()}@%h",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(**env), stdout=self._out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 90) -> "WorkerProcess":
        deadline = time.monotonic() + timeout
        while "ready" not in self.log():
            if self.proc.poll() is not None:
                pytest.fail(f"The Celery worker exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"The Celery worker did not start:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Starts real worker processes, stopped after the test: start_worker("training", name=...)."""
    workers: list[WorkerProcess] = []

    def start(queues: str = "default", name: str = "test", **options) -> WorkerProcess:
        log_path = tmp_path / f"{name}-{len(workers)}.log"
        worker = WorkerProcess(queues=queues, log_path=log_path, name=name, **options)
        workers.append(worker)
        return worker.wait_ready()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_worker_process(start_worker):
    return start_worker("default")


def pytest_collection_modifyitems(config, items):
    on_sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if on_sqlite and "postgres" in item.keywords:
            item.add_marker(skip_pg)
