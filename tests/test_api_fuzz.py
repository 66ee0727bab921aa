"""Schemathesis fuzzes every API operation from the OpenAPI schema against a live server, as an
admin with data in their project: whatever it sends, no answer may be a server error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.projects.models import Membership, Role
from tests.apps.training.conftest import seed_pairwise_labels
from tests.factories import ProjectFactory, StaffFactory, api_token

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]


def test_no_api_operation_answers_with_a_server_error(live_server, tmp_path):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    seed_pairwise_labels(project, prompts=6)
    token = api_token(admin)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{live_server.url}/api/schema/",
            "--url",
            live_server.url,
            "-H",
            f"Authorization: Token {token}",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            os.environ.get("FUZZ_EXAMPLES", "12"),
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    print(result.stdout[-1500:])
