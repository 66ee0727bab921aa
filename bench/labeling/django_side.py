"""The benchmark's Django-side steps, run as a subprocess with DATABASE_URL set:

    python bench/labeling/django_side.py seed --projects 3 --tasks 4000 --annotators 32
    python bench/labeling/django_side.py queries --project <id> --token <key> [--cycles 20]

`seed` creates, through the app's own models and services, a staff admin, pairwise projects with
overlap 3, their tasks (bulk), the annotators (members of every project) and one API token each;
it prints one JSON object on stdout. `queries` runs next + submit through Django's test client
and prints the SQL statements each request issues (CaptureQueriesContext), as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.accounts.models import TokenScope, User  # noqa: E402
from apps.accounts.services import api_token_create  # noqa: E402
from apps.corpus.models import Prompt, Response  # noqa: E402
from apps.labeling.services import tasks_bulk_create  # noqa: E402
from apps.projects.models import FeedbackKind, Membership, Project, Role  # noqa: E402

OVERLAP = 3


def _project_with_tasks(*, name: str, admin: User, n_tasks: int) -> Project:
    project = Project.objects.create(
        name=name, kind=FeedbackKind.PAIRWISE, overlap=OVERLAP, created_by=admin
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                messages=[{"role": "user", "content": f"Benchmark question {i}: which is better?"}],
            )
            for i in range(n_tasks)
        ],
        batch_size=2000,
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=prompt, text=f"Answer {side} to question {i}. " * 8, source=f"m-{side}")
            for i, prompt in enumerate(prompts)
            for side in "ab"
        ],
        batch_size=2000,
    )
    # One pairwise task per prompt: its two responses, as the import would group them.
    groups = [
        (prompt, responses[2 * i : 2 * i + 2], [(0, 1)], {}) for i, prompt in enumerate(prompts)
    ]
    tasks_bulk_create(project=project, prompt_groups=groups)
    return project


def seed(args) -> dict:
    started = time.monotonic()
    password = make_password("bench-password")  # hashed once, shared: PBKDF2 per user is slow
    with transaction.atomic():
        admin = User.objects.create(
            username="bench-admin", password=password, is_staff=True, is_superuser=True
        )
        annotators = User.objects.bulk_create(
            [User(username=f"annotator{i:02d}", password=password) for i in range(args.annotators)]
        )
        projects = [
            _project_with_tasks(name=f"Bench {i}", admin=admin, n_tasks=args.tasks)
            for i in range(args.projects)
        ]
        Membership.objects.bulk_create(
            [
                Membership(project=project, user=user, role=Role.ANNOTATOR)
                for project in projects
                for user in annotators
            ]
        )
        # Each annotator labels with a label-scoped token, as a labeling script would.
        tokens = [
            api_token_create(user=user, name="bench", scope=TokenScope.LABEL)[1]
            for user in annotators
        ]
        admin_token = api_token_create(user=admin, name="bench", scope=TokenScope.ADMIN)[1]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "projects": [p.pk for p in projects],
        "tasks_per_project": args.tasks,
        "overlap": OVERLAP,
        "tokens": tokens,
        "admin_token": admin_token,
        "seconds": round(time.monotonic() - started, 2),
    }


def _top_level(words: str) -> str:
    """The statement with every parenthesised part (subqueries, column lists) removed."""
    out, depth = [], 0
    for ch in words:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")"
    return "".join(out)


def _shape(sql: str) -> str:
    """A statement as its verb and main table, enough to tell a request's queries apart."""
    words = " ".join(sql.split())
    top = _top_level(words)
    verb = top.split(" ", 1)[0].upper()
    table = ""
    for marker in (" FROM ", "INSERT INTO ", "UPDATE "):
        at = top.find(marker)
        if at >= 0:
            table = top[at + len(marker) :].split(" ", 1)[0].strip('"')
            break
    extras = [w for w in ("JOIN", "EXISTS", "FOR UPDATE", "SKIP LOCKED") if w in words]
    return " ".join([verb, table, *(f"[{w.lower()}]" for w in extras)]).strip()


def queries(args) -> dict:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {args.token}")
    per_request: dict[str, list[int]] = {"next": [], "submit": []}
    shapes: dict[str, Counter] = {"next": Counter(), "submit": Counter()}
    body = {"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 1000}
    for _ in range(args.cycles):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/api/projects/{args.project}/tasks/next/")
        if response.status_code != 200:
            break
        per_request["next"].append(len(captured))
        shapes["next"].update(_shape(q["sql"]) for q in captured.captured_queries)
        assignment = response.json()["assignment"]
        with CaptureQueriesContext(connection) as captured:
            response = client.post(f"/api/assignments/{assignment}/judgment/", body, format="json")
        assert response.status_code == 201, response.content
        per_request["submit"].append(len(captured))
        shapes["submit"].update(_shape(q["sql"]) for q in captured.captured_queries)
    n = max(1, len(per_request["next"]))
    return {
        "cycles": len(per_request["next"]),
        "next": per_request["next"],
        "submit": per_request["submit"],
        "next_statements": {k: round(v / n, 2) for k, v in shapes["next"].items()},
        "submit_statements": {k: round(v / n, 2) for k, v in shapes["submit"].items()},
        # Not seen by CaptureQueriesContext: psycopg2-level statements Django sends itself.
        "note": "no 'SELECT 1' health check: the token's statement stands in for it "
        "(apps/core/lean.py); other requests send one per request (CONN_HEALTH_CHECKS=True)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("--projects", type=int, default=3)
    p_seed.add_argument("--tasks", type=int, default=4000)
    p_seed.add_argument("--annotators", type=int, default=32)
    p_queries = sub.add_parser("queries")
    p_queries.add_argument("--project", type=int, required=True)
    p_queries.add_argument("--token", required=True)
    p_queries.add_argument("--cycles", type=int, default=20)
    args = parser.parse_args()
    result = seed(args) if args.command == "seed" else queries(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
