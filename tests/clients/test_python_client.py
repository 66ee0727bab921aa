"""The Python client (clients/python, package arbiter_client) against a live Arbiter server: a
project from import to labels to a snapshot loaded as a `datasets.Dataset`, runs, paging, and
retries against a real HTTP server that fails first."""

import hashlib
import http.server
import json
import threading

import pytest
import requests
from arbiter_client import ArbiterClient, ArbiterError, RetryPolicy

from apps.imports.services import import_job_run
from apps.projects.models import Membership, Role
from tests.apps.exports.helpers import judge
from tests.factories import add_member, api_token, make_task

pytestmark = pytest.mark.django_db(transaction=True)

FAST = RetryPolicy(attempts=4, backoff=0.01, max_wait=0.5)


@pytest.fixture
def as_admin(live_server, admin_user):
    client = ArbiterClient(live_server.url, token=api_token(admin_user), retry=FAST)
    yield client
    client.session.close()


def test_a_project_goes_from_import_to_labels_to_a_dataset(as_admin, live_server, tmp_path):
    project = as_admin.create_project(name="Client project", kind="pairwise", overlap=1)
    source = tmp_path / "prompts.jsonl"
    source.write_text(
        "".join(
            json.dumps({"prompt": f"Prompt {i}", "responses": [f"a{i}", f"b{i}"]}) + "\n"
            for i in range(3)
        )
    )

    job = as_admin.import_file(project["id"], source)
    assert job["status"] == "queued"
    import_job_run(job_id=job["id"], worker="test")  # what the import worker runs
    assert as_admin.wait_import(job["id"], timeout=10, poll=0.1)["status"] == "succeeded"

    chosen = []
    while (lease := as_admin.next_task(project["id"])) is not None:
        chosen.append(next(r["text"] for r in lease["responses"] if r["letter"] == "A"))
        judgment = as_admin.submit(
            lease["assignment"], {"choice": "A", "strength": "clearly"}, duration_ms=900
        )
        assert judgment["task"] == lease["task"]
    assert len(chosen) == 3
    assert len(list(as_admin.judgments(project["id"]))) == 3

    snapshot = as_admin.create_snapshot(project["id"], kind="pairs")
    listed = list(as_admin.snapshots(project["id"]))
    assert [s["id"] for s in listed] == [snapshot["id"]]
    downloaded = tmp_path / "pairs.jsonl"
    size = as_admin.download_snapshot(snapshot["id"], downloaded)
    assert size == snapshot["size_bytes"]
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == snapshot["sha256"]
    assert f"`{snapshot['sha256']}`" in as_admin.snapshot_card(snapshot["id"])

    dataset = as_admin.to_datasets(snapshot["id"], cache_dir=str(tmp_path / "cache"))
    assert dataset.num_rows == 3
    assert sorted(dataset["chosen"]) == sorted(chosen)

    streamed = tmp_path / "now.jsonl"
    as_admin.export(project["id"], "pairs", streamed)
    assert streamed.read_bytes() == downloaded.read_bytes()


def test_runs_launch_read_and_wait_until_cancelled(live_server, labeled_project, tiny_bert_ref):
    as_admin = ArbiterClient(
        live_server.url, token=api_token(labeled_project.created_by), retry=FAST
    )
    run = as_admin.launch_run(
        labeled_project.pk, objective="reward_pairwise", config={"model": tiny_bert_ref}
    )

    assert as_admin.run(run["id"])["status"] == "queued"
    assert len(run["snapshot_sha256"]) == 64
    assert [r["id"] for r in as_admin.runs(labeled_project.pk)] == [run["id"]]
    as_admin.cancel_run(run["id"])
    assert as_admin.wait_run(run["id"], timeout=10, poll=0.1)["status"] == "cancelled"


def test_pagination_follows_every_page(as_admin, project, admin_user):
    for _ in range(101):  # three pages of the API's 50
        judge(make_task(project), admin_user, {"choice": "A", "strength": "clearly"})

    pages = []
    original = as_admin._json

    def counting(method, path, **kwargs):
        pages.append(path)
        return original(method, path, **kwargs)

    as_admin._json = counting
    judgments = list(as_admin.judgments(project.pk))

    assert len(judgments) == 101 and len({j["id"] for j in judgments}) == 101
    assert len(pages) == 3  # one request per page


def test_another_users_project_raises_404_and_is_not_retried(live_server, project):
    stranger = ArbiterClient(live_server.url, token=api_token(add_member(project)), retry=FAST)
    Membership.objects.filter(project=project).exclude(role=Role.ADMIN).delete()

    with pytest.raises(ArbiterError) as error:
        stranger.project(project.pk)
    assert error.value.status == 404


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 (Retry-After: 0), then 429, then 200 with a JSON body."""

    answers: list[int] = []

    def do_GET(self):
        status = self.answers.pop(0) if self.answers else 200
        body = json.dumps({"ok": True}).encode()
        self.send_response(status)
        if status != 200:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_429_and_5xx_are_retried_until_an_answer(flaky_server):
    Flaky.answers = [503, 429]
    client = ArbiterClient(f"http://127.0.0.1:{flaky_server.server_port}", token="t", retry=FAST)

    assert client.project(1) == {"ok": True}
    assert Flaky.answers == []


def test_retries_give_up_with_the_last_status(flaky_server):
    Flaky.answers = [503] * 10
    client = ArbiterClient(f"http://127.0.0.1:{flaky_server.server_port}", token="t", retry=FAST)

    with pytest.raises(ArbiterError) as error:
        client.project(1)
    assert error.value.status == 503 and len(Flaky.answers) == 10 - FAST.attempts


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    class Answer:
        def __init__(self, value):
            self.headers = {"Retry-After": value}

    policy = RetryPolicy(backoff=0.01, max_wait=60)
    assert policy.wait(0, Answer("7")) == 7
    assert 0 <= policy.wait(0, Answer("Wed, 21 Oct 2015 07:28:00 GMT")) < 0.01  # in the past
    assert policy.wait(3, None) == pytest.approx(0.08)


def test_connection_errors_are_retried_then_raised():
    with socket_free_port() as port:
        client = ArbiterClient(f"http://127.0.0.1:{port}", token="t", retry=FAST)
        with pytest.raises(requests.ConnectionError):
            client.projects()


class socket_free_port:
    """A port nothing listens on (bound, never listening, for the length of the block)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()
