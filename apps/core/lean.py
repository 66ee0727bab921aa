"""A lean stack for the token-authenticated labeling API (next task, submit, skip): the
requests an annotator's script or the load benchmark makes thousands of times.

Those requests carry `Authorization: Token …` and never use a session, a CSRF cookie or flash
messages, so the middleware below let them through untouched (a request with no `user` set by
AuthenticationMiddleware is what UserLanguageMiddleware already expects) (config/settings.py lists these
subclasses in place of Django's), and their answers are written by orjson."""

import re

import orjson
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

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
