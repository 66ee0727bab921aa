"""Every input, sent something nasty. Every POST form of every page (read from the page itself)
and every OpenAPI operation with a body (built from its schema) is sent, as a role allowed to
use it, first with a NUL in each text field — PostgreSQL refuses NUL in text and JSON, so it must
be refused with a 4xx (or stripped): never a 500, never stored — then with hostile markup, which
must never cause a 500 nor come back unescaped in a form shown again."""

import json
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import Client
from django.urls import resolve

from tests.security.routes import ADMIN_SITE, all_routes, openapi_operations, route_url
from tests.security.test_authorization_matrix import MATRIX
from tests.security.world import ANNOTATOR, PROJECT_ADMIN, SUPERUSER, kwargs_for, world_build

pytestmark = pytest.mark.django_db

NUL_TEXT = "before\x00after"
HOSTILE_INPUT = '</textarea></script>"><svg onload="window.__pwned=1">{{7*7}}\u202e'
HOSTILE_JSONL = (
    b'{"prompt": "</script><svg onload=window.__pwned=1>", "responses": ["<b>a</b>", "b"], '
    b'"chosen": "<img src=x onerror=1>", "rejected": "b"}\n'
)
ECHO_MARKERS = ('<svg onload="window.__pwned=1">', "</textarea></script>")
NUL_JSONL = b'{"prompt": "p\\u0000q", "responses": ["a\\u0000", "b"], "chosen": "a\\u0000", "rejected": "b"}\n'


class _Forms(HTMLParser):
    """The POST forms of a page: action, and the fields a person could fill (with `text`)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or (a.get("hx-post") and "post") or "get").lower()
            action = a.get("hx-post") or a.get("action") or ""
            self.forms.append({"post": method == "post", "action": action, "fields": {},
                               "files": [], "buttons": []})  # fmt: skip
            return
        if not self.forms or not a.get("name"):
            return
        form, name = self.forms[-1], a["name"]
        kind = (a.get("type") or "text").lower()
        if tag == "textarea" or (tag == "input" and kind in ("text", "search", "email", "url")):
            form["fields"][name] = (
                f"https://93.184.215.14/{self.text}" if kind == "url" else self.text
            )
        elif tag == "input" and kind == "file":
            form["files"].append(name)
        elif tag == "input" and kind in ("hidden", "number", "range"):
            form["fields"][name] = a.get("value") or ("1" if kind != "hidden" else "")
        elif tag == "input" and kind in ("checkbox", "radio"):
            form["fields"].setdefault(name, a.get("value") or "on")
        elif (tag == "button" and kind == "submit") or (tag == "input" and kind == "submit"):
            form["buttons"].append((name, a.get("value") or ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and self._select not in form["fields"]:
            form["fields"][self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _stored_nul() -> list[str]:
    """Every text or JSON value in the database that holds a NUL."""
    found = []
    for model in apps.get_models():
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not columns:
            continue
        for row in model.objects.values_list("pk", *columns):
            for column, value in zip(columns, row[1:], strict=True):
                text = value if isinstance(value, str) else json.dumps(value)
                if "\x00" in text or "\\u0000" in text:
                    found.append(f"{model.__name__}.{column} of {row[0]}")
    return found


def _schema_value(schema: dict, components: dict, *, text: str, depth: int = 0):
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:
        return _schema_value(schema["allOf"][0], components, text=text, depth=depth)
    if "oneOf" in schema or "anyOf" in schema:
        return _schema_value(
            (schema.get("oneOf") or schema["anyOf"])[0], components, text=text, depth=depth
        )
    if "enum" in schema:
        return next(v for v in schema["enum"] if v not in (None, ""))
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        props = schema.get("properties") or {"note": {"type": "string"}}
        return {
            name: _schema_value(prop, components, text=text, depth=depth + 1)
            for name, prop in props.items()
            if not prop.get("readOnly")
        }
    if kind == "array":
        item = schema.get("items", {"type": "string"})
        return [_schema_value(item, components, text=text, depth=depth)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 0.2
    if kind == "boolean":
        return False
    if schema.get("format") == "binary":
        return "FILE"
    if schema.get("format") == "uri":
        return f"https://93.184.215.14/{text}"
    return text


def _role_for(route_name: str, method: str) -> str | None:
    allowed = MATRIX.get(route_name, {}).get(method, ())
    return next((role for role in (PROJECT_ADMIN, ANNOTATOR, SUPERUSER) if role in allowed), None)


@pytest.fixture
def world(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    return world_build(media_root=tmp_path)


def _every_input(world, *, text: str, upload: bytes, check) -> int:
    """Sends `text` in every text field of every POST form and API body, as an allowed role,
    each in a transaction rolled back after `check(where, response)` has looked at it.
    Returns how many requests were sent."""
    clients = {}
    for role, user in world.users.items():
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(user)
    sent = 0

    def send(client, method, url, *, form=None, body=None):
        nonlocal sent
        with transaction.atomic():
            if body is not None:
                response = client.generic(
                    method, url, data=json.dumps(body), content_type="application/json"
                )
            else:
                response = client.post(url, form or {})  # urlencoded, or multipart with files
            check(f"{method} {url}", response)
            transaction.set_rollback(True)
        sent += 1

    # Pages: every POST form, filled in as a person would, with `text` in every text field.
    for route in all_routes():
        role = _role_for(route.name, "GET")
        if route.is_api or role is None or route.name in (ADMIN_SITE, "login", "logout"):
            continue
        page_url = route_url(route, kwargs_for(route, world))
        page = clients[role].get(page_url)
        if page.status_code != 200 or "html" not in page.headers.get("Content-Type", ""):
            continue
        parser = _Forms(text)
        parser.feed(page.content.decode())
        for form in (f for f in parser.forms if f["post"]):
            action = urljoin(page_url, form["action"] or page_url)
            if resolve(action.split("?")[0]).url_name in ("logout",):
                continue
            for button in form["buttons"] or [("", "")]:
                data = dict(form["fields"])
                if button[0]:
                    data[button[0]] = button[1]
                for name in form["files"]:
                    data[name] = SimpleUploadedFile("input.jsonl", upload)
                send(clients[role], "POST", action, form=data)

    # APIs: every operation with a request body, built from its schema.
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    routes = all_routes()
    for path, method in openapi_operations():
        operation = schema["paths"][path][method.lower()]
        content = operation.get("requestBody", {}).get("content", {})
        if not content:
            continue
        route = next(r for r in routes if r.is_api and _matches(r, path))
        role = _role_for(route.name, method)
        if role is None:
            continue
        url = route_url(route, kwargs_for(route, world))
        if "application/json" in content:
            body = _schema_value(content["application/json"]["schema"], components, text=text)
            send(clients[role], method, url, body=body)
        else:
            body = _schema_value(next(iter(content.values()))["schema"], components, text=text)
            body = {
                k: SimpleUploadedFile("input.jsonl", upload) if v == "FILE" else v
                for k, v in body.items()
                if not isinstance(v, dict | list)
            }
            send(clients[role], "POST", url, form=body)

    return sent


def test_inputs_holding_nul_are_refused_or_stripped_never_a_server_error(world):
    problems = []

    def check(where, response):
        if response.status_code >= 500:
            problems.append(f"{where}: {response.status_code}")
        if stored := _stored_nul():
            problems.append(f"{where}: stored a NUL in {stored[:5]}")

    sent = _every_input(world, text=NUL_TEXT, upload=NUL_JSONL, check=check)
    assert sent > 20, f"only {sent} inputs were sent"
    assert not problems, f"{len(problems)} of {sent} inputs with NUL went wrong:\n" + "\n".join(
        problems
    )


def test_hostile_text_in_every_input_is_never_a_server_error_nor_echoed_as_markup(world):
    """Forms answered with errors show what was typed again: escaped, never as markup."""
    problems, echoed = [], 0

    def check(where, response):
        nonlocal echoed
        if response.status_code >= 500:
            problems.append(f"{where}: {response.status_code}")
        page = response.content.decode(errors="replace")
        echoed += "&lt;svg onload=" in page
        if "html" in response.headers.get("Content-Type", "") and any(
            raw in page for raw in ECHO_MARKERS
        ):
            problems.append(f"{where}: echoed the input as markup")

    sent = _every_input(world, text=HOSTILE_INPUT, upload=HOSTILE_JSONL, check=check)
    assert sent > 20, f"only {sent} inputs were sent"
    assert echoed > 0, "no form showed the input again: the echo check saw nothing to check"
    assert not problems, f"{len(problems)} of {sent} hostile inputs went wrong:\n" + "\n".join(
        problems
    )


def _matches(route, openapi_path: str) -> bool:
    from tests.security.test_authorization_matrix import _template_matches

    return _template_matches(route, openapi_path)
