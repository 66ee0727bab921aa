"""`make demo-check`: the demo from nothing, as a new user gets it, and every page it shows.

On a fresh SQLite file, storage and broker in a temp folder (never var/), runs `bin/demo`
exactly as `make demo` does (migrate, seed_demo, a Celery worker with its beat, the server) on a
free port, waits (bounded) until the demo's training runs have finished, signs in as admin and
as annotator, and crawls every page linked from the navigation and below it (each project's
pages, each run's page). Prints one line per page and ends with
`pages=<n> empty=<n> errors=<n>`; exits non-zero unless empty=0 and errors=0.

A page is *empty* when it renders an empty-state block: the templates mark each "No … yet"
message with a `data-empty` attribute. An *error* is a 4xx or 5xx answer.

--screenshots DIR also writes the README's pictures from the running demo (chromium).
"""

import argparse
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
LOGINS = {"admin": "arbiter-admin", "annotator": "arbiter-label"}
# Not pages: the API (but its docs page), Django admin's inner pages, files and actions.
SKIP = re.compile(
    r"^/(api/(?!docs/)|static/|media/|logout/|admin/.+)"
    r"|/(download|artifacts|export)[/.]|\.(json|jsonl|csv|parquet|zip|png|gz)$"
)
PER_PATTERN = 8  # pages of one URL shape (digits aside): every demo project's, a few tasks'
MAX_DEPTH = 5


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.empty = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-empty" in attrs:
            self.empty = True
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise SystemExit(f"demo-check: timed out after {timeout:.0f} s waiting for {what}")


def jobs_ended(db: Path, table: str, what: str) -> str | None:
    """None while the table is empty or one of its jobs is queued or running; the jobs'
    statuses once all have ended."""
    try:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(f"SELECT id, status FROM {table}").fetchall()
    except sqlite3.Error:
        return None
    if not rows or any(status in ("queued", "running") for _, status in rows):
        return None
    return ", ".join(f"{what} {pk} {status}" for pk, status in rows)


def sign_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/login/",
        data={"username": username, "password": LOGINS[username], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=60,
    )
    if "sessionid" not in session.cookies:
        raise SystemExit(f"demo-check: {username} could not sign in ({answer.status_code})")
    return session


def crawl(base: str, session: requests.Session, who: str) -> list[tuple[str, int, bool]]:
    """(path, status, empty) of every page reachable from the home page within MAX_DEPTH."""
    seen: set[str] = {"/"}
    shapes: dict[str, int] = {}
    queue = [("/", 0)]
    pages = []
    while queue:
        path, depth = queue.pop(0)
        answer = session.get(base + path, timeout=120, allow_redirects=True)
        html = "text/html" in answer.headers.get("Content-Type", "")
        parser = Links()
        if html:
            parser.feed(answer.text)
        pages.append((path, answer.status_code, parser.empty))
        print(
            f"{who:9} {answer.status_code} {'EMPTY' if parser.empty else 'ok   '} {path}",
            flush=True,
        )
        if depth >= MAX_DEPTH:
            continue
        for href in parser.links:
            url = urlsplit(urljoin(base + path, href))
            if url.netloc != urlsplit(base).netloc or url.query:
                continue  # other sites; filtered or paged views of a page already crawled
            target = url.path
            if target in seen or SKIP.search(target):
                continue
            shape = re.sub(r"\d+", "N", target)
            if shapes.get(shape, 0) >= PER_PATTERN:
                continue
            seen.add(target)
            shapes[shape] = shapes.get(shape, 0) + 1
            queue.append((target, depth + 1))
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=900,
        help="seconds to wait for the server, and for each kind of the demo's jobs",
    )
    parser.add_argument("--screenshots", help="write the README's pictures into this folder")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="arbiter-demo-check-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CELERY_", "ARBITER_STORAGE", "SECRET_KEY"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        ARBITER_STORAGE_ROOT=str(tmp / "storage"),
        CELERY_BROKER_DIR=str(tmp / "broker"),
        ARBITER_DEMO_VAR=str(tmp / "var"),
        PORT=str(port),
        HOST="127.0.0.1",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    log = (tmp / "demo.log").open("w")
    started = time.monotonic()
    print(f"demo-check: bin/demo in {tmp} on port {port}", flush=True)
    demo = subprocess.Popen(
        [str(ROOT / "bin" / "demo")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the worker goes with it at the end
    )
    try:

        def up():
            if demo.poll() is not None:
                raise SystemExit(
                    f"demo-check: bin/demo exited ({demo.returncode}):\n"
                    + (tmp / "demo.log").read_text()[-3000:]
                )
            try:
                return requests.get(f"{base}/login/", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for("the server", up, timeout=args.run_timeout)
        print(f"demo-check: server up after {time.monotonic() - started:.0f} s", flush=True)
        db = tmp / "db.sqlite3"
        for table, what, timeout in (
            ("training_trainingrun", "run", args.run_timeout),
            # The reward model's judge labels the pairwise project once the runs are done.
            ("judges_judgejob", "judge job", args.run_timeout),
            # The tiny GPT-2's jobs, and the policy runs launched after the reward models.
            ("generation_generationjob", "generation job", args.run_timeout),
            ("training_trainingrun", "run", args.run_timeout),
        ):
            ended = wait_for(
                f"the demo's {what}s",
                lambda t=table, w=what: jobs_ended(db, t, w),
                timeout,
                interval=2,
            )
            print(f"demo-check: {ended} after {time.monotonic() - started:.0f} s", flush=True)
        if args.screenshots:
            sys.path.insert(0, str(ROOT / "bin"))
            from demo_screenshots import take

            take(base=base, out=Path(args.screenshots), logins=LOGINS)
        pages = []
        for who in ("admin", "annotator"):
            pages += crawl(base, sign_in(base, who), who)
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
    empty = sum(1 for _, _, e in pages if e)
    errors = sum(1 for _, status, _ in pages if status >= 400)
    print(f"pages={len(pages)} empty={empty} errors={errors}")
    return 0 if empty == 0 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
