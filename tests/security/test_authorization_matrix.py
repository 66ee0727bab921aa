"""Who may use which URL. Every URL pattern (walked from the resolver) and every OpenAPI
operation is requested by five roles, with each method its view accepts, against the seeded
objects of one project. `MATRIX` below says which role may do what; everything else must be
refused (401/403/404/405, or a redirect to the login page), the admin of another project must
get 404 for that project's objects, nothing may answer 5xx, and no table may gain or lose a row
on a refused request. A URL without a row in `MATRIX` fails the test."""

import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import resolve, reverse

from tests.security.routes import ADMIN_SITE, all_routes, openapi_operations, route_url
from tests.security.world import (
    ANNOTATOR,
    ANONYMOUS,
    OTHER_ADMIN,
    PROJECT_ADMIN,
    ROLES,
    SUPERUSER,
    kwargs_for,
    world_build,
)

pytestmark = pytest.mark.django_db

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANONYMOUS}
STAFF = frozenset({OTHER_ADMIN, PROJECT_ADMIN, SUPERUSER})  # project admins are staff accounts
MEMBERS = frozenset({ANNOTATOR, PROJECT_ADMIN, SUPERUSER})  # of the project (superuser: all)
ADMINS = frozenset({PROJECT_ADMIN, SUPERUSER})
OWNER = frozenset({ANNOTATOR})  # the annotator's own lease, conversation, message
NOBODY = frozenset()

# One row per URL name: method -> the roles allowed. A method the view accepts but the row does
# not list is allowed to nobody.
MATRIX: dict[str, dict[str, frozenset]] = {
    ADMIN_SITE: {"GET": STAFF, "POST": STAFF},
    "home": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "login": {"GET": EVERYONE, "POST": EVERYONE, "PUT": EVERYONE},
    "logout": {"POST": EVERYONE},
    # API
    "project-list": {"GET": SIGNED_IN, "POST": STAFF},
    "project-detail": {"GET": MEMBERS, "PATCH": ADMINS},
    "import-create": {"POST": ADMINS},
    "import-detail": {"GET": ADMINS},
    "task-next": {"POST": MEMBERS},
    "judgment-submit": {"POST": OWNER},
    "assignment-skip": {"POST": OWNER},
    "judgment-list": {"GET": MEMBERS},
    "judgment-detail": {"GET": MEMBERS},
    # The schema and its viewer describe the API, which is public; they hold no data.
    "api-schema": {"GET": EVERYONE},
    "api-docs": {"GET": EVERYONE},
    # Pages
    "projects:list": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "projects:new": {"GET": STAFF, "POST": STAFF},
    "projects:detail": {"GET": MEMBERS, "POST": MEMBERS},
    "projects:members": {"GET": ADMINS, "POST": ADMINS},
    "projects:settings": {"GET": ADMINS, "POST": ADMINS},
    "projects:principles": {"GET": ADMINS, "POST": ADMINS},
    "judges:list": {"GET": ADMINS, "POST": ADMINS},
    "judges:calibration": {"GET": ADMINS},
    "judges:detail": {"GET": ADMINS, "POST": ADMINS},
    "judges:run": {"POST": ADMINS},
    "judges:evaluate": {"POST": ADMINS},
    "judges:delete": {"POST": ADMINS},
    "judges:job": {"GET": ADMINS},
    "judges:job-cancel": {"POST": ADMINS},
    "judges:job-resume": {"POST": ADMINS},
    "labeling:label": {"GET": MEMBERS, "POST": MEMBERS},
    "labeling:submit": {"POST": OWNER},
    "labeling:skip": {"POST": OWNER},
    "imports:new": {"GET": ADMINS, "POST": ADMINS},
    "imports:detail": {"GET": ADMINS, "POST": ADMINS},
    "chat:home": {"GET": MEMBERS, "POST": MEMBERS},
    "chat:new": {"POST": MEMBERS},
    "chat:settings": {"GET": ADMINS, "POST": ADMINS},
    "chat:conversation": {"GET": OWNER, "POST": OWNER},
    "chat:send": {"POST": OWNER},
    "chat:retry": {"POST": OWNER},
    "chat:react": {"POST": OWNER},
    "chat:api-conversation": {"GET": OWNER},
    "chat:api-send": {"POST": OWNER},
    "chat:api-reaction": {"PUT": OWNER, "DELETE": OWNER},
    "chat:api-retry": {"POST": OWNER},
    "chat:reply": {"GET": OWNER, "POST": OWNER},
    "arena:home": {"GET": MEMBERS},
    "arena:new": {"POST": MEMBERS},
    "arena:contestants": {"GET": ADMINS, "POST": ADMINS},
    "arena:battle": {"GET": OWNER},
    "arena:send": {"POST": OWNER},
    "arena:vote": {"POST": OWNER},
    "arena:retry": {"POST": OWNER},
    "arena:reveal": {"POST": OWNER},
    "exports:home": {"GET": ADMINS, "POST": ADMINS},
    "exports:download": {"GET": ADMINS, "POST": ADMINS},
    "exports:import-new": {"GET": ADMINS, "POST": ADMINS},
    "exports:import-detail": {"GET": ADMINS, "POST": ADMINS},
    "quality:table": {"GET": ADMINS, "POST": ADMINS},
    "quality:exclude": {"POST": ADMINS},
    "quality:task": {"GET": ADMINS, "POST": ADMINS},
    "quality:exclude-judgment": {"POST": ADMINS},
    "training:list": {"GET": ADMINS, "POST": ADMINS},
    "training:detail": {"GET": ADMINS, "POST": ADMINS},
    "training:curves": {"GET": ADMINS, "POST": ADMINS},
    "training:cancel": {"POST": ADMINS},
    "training:use-in-chat": {"POST": ADMINS},
    "training:artifact": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:overview": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:judgments": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:leaderboard": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:compare": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:disagreements": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:jobs": {"GET": ADMINS, "POST": ADMINS},
    "dashboard:job-retry": {"POST": ADMINS},
    "dashboard:job-cancel": {"POST": ADMINS},
    "dashboard-api:job-list": {"GET": ADMINS},
    "autopilot:home": {"GET": ADMINS, "POST": ADMINS},
    "autopilot-api:rule-list": {"GET": ADMINS, "POST": ADMINS},
    "autopilot-api:rule-detail": {"GET": ADMINS, "PATCH": ADMINS, "DELETE": ADMINS},
    "autopilot-api:champion-list": {"GET": ADMINS, "POST": ADMINS},
    "autopilot-api:champion-rollback": {"POST": ADMINS},
    "autopilot-api:chain": {"GET": ADMINS, "PATCH": ADMINS},
    "generation:list": {"GET": ADMINS, "POST": ADMINS},
    "generation:new": {"GET": ADMINS, "POST": ADMINS},
    "generation:consequences-new": {"GET": ADMINS, "POST": ADMINS},
    "generation:detail": {"GET": ADMINS, "POST": ADMINS},
    "generation:cancel": {"POST": ADMINS},
    "generation:resume": {"POST": ADMINS},
    "generation:rounds": {"GET": ADMINS, "POST": ADMINS},
    "generation:round-train": {"POST": ADMINS},
    "exports-api:export-list": {"GET": ADMINS, "POST": ADMINS},
    "exports-api:export-kind-list": {"GET": ADMINS},
    "exports-api:export-now": {"GET": ADMINS},
    "exports-api:export-detail": {"GET": ADMINS},
    "exports-api:export-download": {"GET": ADMINS},
    "exports-api:snapshot-list": {"GET": ADMINS, "POST": ADMINS},
    "exports-api:snapshot-detail": {"GET": ADMINS},
    "exports-api:snapshot-download": {"GET": ADMINS},
    "exports-api:snapshot-card": {"GET": ADMINS},
    "exports-api:dataset-import-list": {"GET": ADMINS, "POST": ADMINS},
    "exports-api:dataset-import-detail": {"GET": ADMINS},
    "webhooks-api:webhook-list": {"GET": ADMINS, "POST": ADMINS},
    "webhooks-api:webhook-detail": {"GET": ADMINS, "DELETE": ADMINS},
    "webhooks-api:webhook-delivery-list": {"GET": ADMINS},
    "run-list": {"GET": ADMINS, "POST": ADMINS},
    "run-detail": {"GET": ADMINS},
    "run-cancel": {"POST": ADMINS},
    "run-curves": {"GET": ADMINS},
    "model-list": {"GET": ADMINS},
    "model-endpoint-list": {"GET": ADMINS, "POST": ADMINS},
    "model-endpoint-detail": {"GET": ADMINS, "PATCH": ADMINS, "DELETE": ADMINS},
    # Everyone's own API tokens; the seeded token is the annotator's.
    "accounts:tokens": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "accounts:token-revoke": {"POST": OWNER},
    "accounts:api-tokens": {"GET": SIGNED_IN},
    "accounts:api-token": {"DELETE": OWNER},
    # Everyone's own settings (the language pages are shown in) and the header's language switch.
    "accounts:settings": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "accounts:language": {"POST": SIGNED_IN},
    # The JavaScript translation catalog holds only the app's own UI strings.
    "javascript-catalog": {"GET": EVERYONE},
    # A project's team: invitations, assignment, quotas, qualification, the work report.
    "teams:team": {"GET": ADMINS},
    "teams:invite": {"POST": ADMINS},
    "teams:invitation-withdraw": {"POST": ADMINS},
    "teams:member": {"POST": ADMINS},
    "teams:assign": {"POST": ADMINS},
    "teams:report": {"GET": ADMINS},
    # Whoever holds an invitation's link may accept it (signed in or making an account).
    "teams:accept": {"GET": EVERYONE, "POST": EVERYONE},
    # Single sign-on is off unless configured (as here): both answer 404 to everyone. With it
    # on, anyone may start a sign-in (tests/browser/test_teams.py signs in through a provider).
    "oidc_authentication_init": {},
    "oidc_authentication_callback": {},
}


def _jsonl_upload(name: str, line: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, line, content_type="application/jsonl")


# Well-formed bodies, so that a refusal is an authorization decision rather than a 400 for bad
# input. Pages get form fields, APIs JSON (or multipart where they take a file).
BODIES = {
    ("project-list", "POST"): {"name": "Matrix project"},
    ("project-detail", "PATCH"): {"name": "Renamed by the matrix"},
    ("import-create", "POST"): lambda world: {
        "file": _jsonl_upload("m.jsonl", b'{"prompt": "p", "responses": ["a", "b"]}\n')
    },
    ("judgment-submit", "POST"): {"payload": {"choice": "A", "strength": "clearly"}},
    ("labeling:submit", "POST"): {"choice": "A", "strength": "clearly"},
    ("quality:exclude", "POST"): {"excluded": "1"},
    ("quality:exclude-judgment", "POST"): {"excluded": "1"},
    ("projects:members", "POST"): {"username": "oadmin", "role": "admin"},
    ("teams:invite", "POST"): {"role": "annotator", "days": "7"},
    ("teams:member", "POST"): {"quota": "5", "group": "experts"},
    ("teams:assign", "POST"): {"action": "share", "percent": "50", "group": "experts"},
    ("teams:accept", "POST"): {"username": "invitee", "password": "correct horse battery"},
    ("chat:send", "POST"): {"content": "Hello"},
    ("arena:send", "POST"): {"content": "Hello"},
    ("arena:vote", "POST"): {"choice": "A", "strength": "clearly"},
    ("chat:api-send", "POST"): {"content": "Hello"},
    ("chat:api-reaction", "PUT"): {"kind": "thumbs_up"},
    ("run-list", "POST"): {"objective": "bradley_terry"},
    ("model-endpoint-list", "POST"): {"base_url": "https://93.184.215.14/v2", "name": "m2"},
    ("model-endpoint-detail", "PATCH"): {"name": "renamed"},
    ("accounts:tokens", "POST"): {"name": "matrix", "scope": "read", "days": "30"},
    ("accounts:token-revoke", "POST"): lambda world: {
        "token_key": world.objects["api_token"].token_key
    },
    ("accounts:settings", "POST"): {"language": "de"},
    ("accounts:language", "POST"): {"language": "de", "next": "/"},
    ("exports-api:export-list", "POST"): {"kind": "pairs"},
    ("exports-api:snapshot-list", "POST"): {"kind": "pairs"},
    ("exports-api:dataset-import-list", "POST"): lambda world: {
        "file": _jsonl_upload("d.jsonl", b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n')
    },
    ("webhooks-api:webhook-list", "POST"): {
        "url": "https://93.184.215.14/hook",
        "events": ["judgment.submitted"],
    },
}
REFUSAL_STATUSES = {401, 403, 404, 405}
# A GET must not write, except where the page is itself the action: opening the labeling page
# leases the caller's next task (reloading it returns the same lease).
GET_MAY_WRITE = {"labeling:label"}
SESSION_TABLES = {"django_session"}  # a login session may be touched by any request


def _changed(before: dict, after: dict, ignore=frozenset()) -> dict:
    return {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in ignore}


def _row_counts() -> dict[str, int]:
    """Every table's row count, in one statement."""
    tables = sorted(connection.introspection.table_names())
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def _is_refusal(response) -> bool:
    """Refused: a 4xx that says "not for you", or a redirect to a login page (the site's, or
    the admin site's) that would come back here."""
    if response.status_code in REFUSAL_STATUSES:
        return True
    location = response.headers.get("Location", "")
    logins = (resolve_url(settings.LOGIN_URL), reverse("admin:login"))
    return response.status_code in (301, 302) and location.startswith(
        tuple(f"{login}?next=" for login in logins)
    )


def _send(client: Client, route, method: str, url: str, world):
    body = BODIES.get((route.name, method))
    body = body(world) if callable(body) else body
    if route.is_api and method != "GET" and not (body and "file" in body):
        return client.generic(method, url, data=_json(body or {}), content_type="application/json")
    if method == "GET":
        return client.get(url)
    if method == "POST":
        return client.post(url, body or {})
    return client.generic(method, url)


def _json(body) -> str:
    import json

    return json.dumps(body)


@pytest.fixture
def world(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    return world_build(media_root=tmp_path)


def _clients(world) -> dict[str, Client]:
    clients = {ANONYMOUS: Client(raise_request_exception=False)}
    for role, user in world.users.items():
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(user)
    return clients


def test_every_url_and_operation_answers_only_the_roles_the_matrix_allows(world, security_counters):
    routes = all_routes()
    by_name = {route.name: route for route in routes}
    missing = sorted(set(by_name) - set(MATRIX))
    assert not missing, f"URLs without a row in MATRIX (say who may use them): {missing}"
    stale = sorted(set(MATRIX) - set(by_name))
    assert not stale, f"MATRIX rows for URLs that no longer exist: {stale}"
    for name, row in MATRIX.items():
        extra = set(row) - set(by_name[name].methods)
        assert not extra, f"MATRIX allows {extra} on {name}, whose view does not accept them"

    # Every OpenAPI operation is one of the requests made below.
    operations = openapi_operations()
    for path, method in operations:
        route = next((r for r in routes if _template_matches(r, path)), None)
        assert route is not None, f"OpenAPI operation {method} {path} matches no URL pattern"
        assert method in route.methods, f"{method} {path}: the view does not accept it"

    clients = _clients(world)
    sessions = {role: _session_key(c) for role, c in clients.items()}
    failures, refused_ok, requests = [], 0, 0
    for route in routes:
        kwargs = kwargs_for(route, world)
        url = route_url(route, kwargs)
        if route.name != ADMIN_SITE:
            assert resolve(url).kwargs.keys() == kwargs.keys()
        for method in route.methods:
            allowed = MATRIX[route.name].get(method, NOBODY)
            for role in ROLES:
                client = clients[role]
                with transaction.atomic():
                    before = _row_counts()
                    response = _send(client, route, method, url, world)
                    after = _row_counts()
                    transaction.set_rollback(True)  # every request starts from the same world
                requests += 1
                where = f"{method} {url} ({route.name}) as {role}: {response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{where} — a server error")
                elif role in allowed:
                    if _is_refusal(response):
                        failures.append(f"{where} — refused, but the matrix allows it")
                    elif (
                        method == "GET"
                        and route.name not in GET_MAY_WRITE
                        and (changed := _changed(before, after, ignore=SESSION_TABLES))
                    ):
                        failures.append(f"{where} — a GET changed rows: {changed}")
                elif not _is_refusal(response):
                    failures.append(f"{where} — answered, but the matrix refuses it")
                elif role == OTHER_ADMIN and kwargs and response.status_code not in (404, 405):
                    failures.append(f"{where} — a foreign object must answer 404")
                elif changed := _changed(before, after):
                    failures.append(f"{where} — refused, yet rows changed: {changed}")
                else:
                    refused_ok += 1
                if role != ANONYMOUS and _session_key(client) != sessions[role]:
                    client.force_login(world.users[role])  # logged out (or rotated): back in
                    sessions[role] = _session_key(client)

    security_counters["routes"] += len(routes)
    security_counters["refused_ok"] += refused_ok
    assert not failures, f"{len(failures)} of {requests} requests broke the matrix:\n" + "\n".join(
        failures
    )
    assert refused_ok > len(routes), "too few refusals checked: is the matrix test running?"


def _session_key(client: Client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def _template_matches(route, openapi_path: str) -> bool:
    """Whether an OpenAPI path template ("/api/runs/{run_id}/") is this route's pattern."""
    pattern = route.pattern.replace("^", "").replace("$", "")
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
    pattern = pattern.replace("\\.", ".")
    return pattern == openapi_path
