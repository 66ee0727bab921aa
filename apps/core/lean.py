"""A lean stack for the token-authenticated labeling API (next task, submit, skip): the
requests an annotator's script or the load benchmark makes thousands of times.

Those requests carry `Authorization: Token …` and never use a session, a CSRF cookie or flash
messages, so the middleware below let them through untouched (a request with no `user` set by
AuthenticationMiddleware is what UserLanguageMiddleware already expects) (config/settings.py lists these
subclasses in place of Django's), and their answers are written by orjson.

`lean_token_api` goes further for the two requests of the annotator's loop (next task, submit):
a token request that DRF would take through the token check, the label scope, the throttles and
JSON answer the usual way is answered by a plain function (one SQL statement for the token and
its user, no Request wrapping, no content negotiation, shared serializers); every other request,
and any case the function does not take, goes to the DRF view unchanged."""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from hmac import compare_digest

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import InterfaceError, OperationalError, connections
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

from apps.core import prepared

# The labeling API's routes (config/urls.py: task-next, judgment-submit, assignment-skip).
LABELING_API_PATH = re.compile(r"^/api/(projects/\d+/tasks/next|assignments/\d+/(judgment|skip))/$")


def is_token_labeling_request(request) -> bool:
    return bool(
        LABELING_API_PATH.match(request.path_info)
        and request.META.get("HTTP_AUTHORIZATION", "")[:6].lower() == "token "
    )


class _SkippedForTokenLabeling:
    def __call__(self, request):
        if is_token_labeling_request(request):
            return self.get_response(request)
        return super().__call__(request)


class LeanSessionMiddleware(_SkippedForTokenLabeling, SessionMiddleware):
    pass


class LeanAuthenticationMiddleware(_SkippedForTokenLabeling, AuthenticationMiddleware):
    """DRF sets `request.user` from the token for these requests."""


class LeanMessageMiddleware(_SkippedForTokenLabeling, MessageMiddleware):
    pass


class LeanCsrfViewMiddleware(_SkippedForTokenLabeling, CsrfViewMiddleware):
    """Token requests are not made by a browser's cookies: DRF exempts them from CSRF anyway."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_token_labeling_request(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


_fallback = JSONEncoder().default


class OrjsonRenderer(JSONRenderer):
    """JSONRenderer's output (compact, UTF-8) written by orjson; what orjson does not know
    (Decimal, lazy strings, ...) goes through DRF's encoder."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)


class OrjsonParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


# ---------------------------------------------------------------- lean token API views


def model_from_row(model, values, *, using: str = "default"):
    """A model instance from its concrete fields' column values (in `_meta.concrete_fields`
    order), converted as the ORM converts them (JSON, ...)."""
    attnames, converters = _row_shape(model, using)
    values = list(values)
    for i, convert in converters:
        for converter in convert:
            values[i] = converter(values[i], None, connections[using])
    return model.from_db(using, attnames, values)


@functools.cache
def _row_shape(model, using: str):
    connection = connections[using]
    fields = model._meta.concrete_fields
    converters = [
        (i, converters)
        for i, field in enumerate(fields)
        if (
            converters := [
                *connection.ops.get_db_converters(field.get_col(model._meta.db_table)),
                *field.get_db_converters(connection),
            ]
        )
    ]
    return [field.attname for field in fields], converters


def model_columns(model, alias: str) -> str:
    """The SELECT list for model_from_row: `alias."column"` of each concrete field."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@dataclass(frozen=True)
class LeanRead:
    """A row the handler needs, read in the same statement as the token (so it costs no round
    trip of its own): `join` is a `LEFT JOIN LATERAL (...) AS <alias> ON true` that may use the
    token's user as `u`, `columns` its select list, `params(kwargs)` its parameters from the
    view's arguments, `build(values)` what the handler gets as `read=` from those columns."""

    join: str
    columns: str
    params: Callable[[dict], list]
    build: Callable[[tuple], object]


@functools.cache
def _token_sql(read: LeanRead | None) -> prepared.Statement:
    from apps.accounts.models import ApiToken

    user = get_user_model()
    return prepared.Statement(
        f'SELECT t."digest", t."expiry", t."scope", {model_columns(user, "u")}'
        f"{', ' + read.columns if read else ''} "
        f'FROM "{ApiToken._meta.db_table}" t '
        f'JOIN "{user._meta.db_table}" u ON u."{user._meta.pk.column}" = t."user_id" '
        f"{read.join if read else ''} "
        f'WHERE t."token_key" = %s'
    )


def _token_user(request, view_name: str, read: LeanRead | None = None, kwargs=None):
    """The active user of the request's `Token` header when ApiTokenAuthentication would accept
    it and its scope allows this view, with what `read` reads; None for anything else (no
    header, a bad or expired token, an inactive user, a read token), which the DRF view then
    answers as it always has."""
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS, knox_settings

    from apps.accounts.models import TokenScope
    from apps.accounts.tokens import LABEL_VIEWS

    try:
        # As DRF's get_authorization_header and knox's TokenAuthentication read it.
        parts = request.META.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1").split()
        if len(parts) != 2 or parts[0].lower() != knox_settings.AUTH_HEADER_PREFIX.lower().encode():
            return None
        token = parts[1].decode("utf-8")
        digest = hash_token(token)
    except Exception:  # knox refuses these with an error answer: the DRF view gives it
        return None
    params = [*(read.params(kwargs) if read else []), token[: CONSTANTS.TOKEN_KEY_LENGTH]]
    rows = _read_as_health_check(_token_sql(read), params)
    now = timezone.now()
    for row in rows:
        stored, expiry, scope = row[:3]
        if expiry is not None and (expiry < now or knox_settings.AUTO_REFRESH):
            return None  # knox deletes (or renews) it: the DRF view does that
        if not compare_digest(digest, stored):
            continue
        if scope != TokenScope.ADMIN and not (
            scope == TokenScope.LABEL and view_name in LABEL_VIEWS
        ):
            return None  # TokenScopePermission's 403
        n_user = len(get_user_model()._meta.concrete_fields)
        user = model_from_row(get_user_model(), row[3 : 3 + n_user])
        if not user.is_active:
            return None
        return user, read.build(row[3 + n_user :]) if read else None
    return None


def _read_as_health_check(statement: prepared.Statement, params: list) -> list[tuple]:
    """The rows of a read-only statement that is the request's first, standing in for the
    `SELECT 1` that CONN_HEALTH_CHECKS would send before it (one round trip less per request):
    where the connection kept from an earlier request turns out dead, it is closed, as a failed
    health check would close it, and the read runs once more on a new one."""
    db = connections["default"]
    checked_here = (
        db.connection is not None
        and db.health_check_enabled
        and not db.health_check_done
        and not db.in_atomic_block
    )
    if checked_here:
        db.health_check_done = True
    try:
        return _fetch_all(db, statement, params)
    except (InterfaceError, OperationalError):
        if not checked_here:
            raise
        db.close()
        return _fetch_all(db, statement, params)


def _fetch_all(db, statement: prepared.Statement, params: list) -> list[tuple]:
    with db.cursor() as cursor:
        prepared.execute(cursor, statement, params)
        return cursor.fetchall()


_ACCEPTS_JSON = frozenset({"*/*", "application/json"})


@functools.cache
def _lean_terms(view_class) -> dict | None:
    """The DRF view's response headers, if the view is configured as the lean path assumes
    (knox tokens first, authenticated plus token scope, orjson first); else None."""
    from rest_framework.permissions import IsAuthenticated

    from apps.accounts.tokens import ApiTokenAuthentication, TokenScopePermission

    view = view_class()
    if not (
        view.authentication_classes
        and view.authentication_classes[0] is ApiTokenAuthentication
        and list(view.permission_classes) == [IsAuthenticated, TokenScopePermission]
        and view.renderer_classes[0] is OrjsonRenderer
    ):
        return None
    return {"headers": view.default_response_headers, "throttles": view.throttle_classes}


def lean_token_api(handler, *, read: LeanRead | None = None):
    """Wraps a DRF function view: a POST with a valid label (or admin) token that asks for JSON
    (no Accept header, */* or application/json) is answered by `handler(request, user, **kwargs)`
    (with `read=` what `read` read along with the token) with what the DRF view would answer. The handler returns a DRF Response, or None before it
    changed anything to let the DRF view answer (e.g. a body to refuse with DRF's own words);
    the errors it raises are answered by the API's exception handler, as DRF would.
    The wrapper keeps the DRF view's attributes, so the OpenAPI schema still documents it."""

    def decorate(drf_view):
        @functools.wraps(drf_view)
        def view(request, *args, **kwargs):
            if request.method == "POST" and getattr(settings, "ARBITER_LEAN_LABELING_API", True):
                response = _lean_answer(drf_view, handler, read, request, args, kwargs)
                if response is not None:
                    return response
            return drf_view(request, *args, **kwargs)

        return view

    return decorate


def _lean_answer(drf_view, handler, read, request, args, kwargs):
    terms = _lean_terms(drf_view.cls)
    if (
        terms is None
        or request.META.get("HTTP_ACCEPT", "*/*") not in _ACCEPTS_JSON
        or "format" in request.GET
    ):
        return None
    caller = _token_user(request, request.resolver_match.view_name, read, kwargs)
    if caller is None:
        return None
    user, extra = caller
    request.user = user
    # DRF's throttles, counted in the same cache; a refusal is left to the DRF view, which
    # refuses it again (a refusal records nothing) with its Retry-After.
    for throttle in terms["throttles"]:
        if not throttle().allow_request(request, drf_view.cls):
            return None
    try:
        response = (
            handler(request, user, *args, read=extra, **kwargs)
            if read
            else handler(request, user, *args, **kwargs)
        )
    except Exception as exc:
        response = api_settings.EXCEPTION_HANDLER(
            exc, {"view": None, "args": args, "kwargs": kwargs, "request": request}
        )
        if response is None:
            raise
    if response is None:
        return None
    response.accepted_renderer = _RENDERER
    response.accepted_media_type = _RENDERER.media_type
    response.renderer_context = {}
    headers = dict(terms["headers"])
    if (vary := headers.pop("Vary", None)) is not None:
        patch_vary_headers(response, [vary])
    for key, value in headers.items():
        response[key] = value
    return response


_RENDERER = OrjsonRenderer()


def lean_json_body(request):
    """The request's JSON object, parsed as OrjsonParser would; None when the body is not a
    JSON object (DRF's parser then answers with its own error)."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return None
    try:
        data = orjson.loads(request.body)
    except Exception:
        return None
    return data if isinstance(data, dict) else None
