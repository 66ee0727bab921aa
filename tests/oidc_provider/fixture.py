"""The `oidc_provider` fixture: a real django-oauth-toolkit OIDC provider in its own process,
with Arbiter (the live server) registered as its client and configured to use it."""

import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ROOT

CLIENT_ID, CLIENT_SECRET = "arbiter-tests", "provider-secret-for-tests"
# name, password, email, groups
PROVIDER_USERS = [
    ("ada", "ada-password", "ada@example.org", "labelers"),
    ("lin", "lin-password", "lin@example.org", "leads,labelers"),
]


@dataclass
class Provider:
    url: str  # its issuer base, e.g. http://127.0.0.1:PORT/o


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def oidc_provider(live_server, settings, tmp_path):
    port = _free_port()
    log = (tmp_path / "provider.log").open("w")
    command = [
        sys.executable, "-m", "tests.oidc_provider.serve", "--port", str(port),
        "--redirect-uri", f"{live_server.url}/oidc/callback/",
        "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
    ] + [arg for user in PROVIDER_USERS for arg in ("--user", ":".join(user))]  # fmt: skip
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={"OIDC_PROVIDER_DB": str(tmp_path / "provider.sqlite3"), "PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/o"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/.well-known/openid-configuration", timeout=2).is_success:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                "The OIDC provider did not start:\n" + (tmp_path / "provider.log").read_text()
            )
        time.sleep(0.3)
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{base}/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{base}/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{base}/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{base}/.well-known/jwks.json"
    settings.ARBITER_OIDC_PROVIDER_NAME = "Test IdP"
    yield Provider(url=base)
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
