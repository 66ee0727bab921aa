"""The app's settings, with one of a few what-if changes chosen by BENCH_VARIANT (comma-separated)
so that the profile can measure what each would save. Used only by profile_server.py:

- no_health_check: CONN_HEALTH_CHECKS = False (no `SELECT 1` before each request's first query)
- api_middleware: only the middleware an API request needs (no sessions/messages/csrf/htmx/...)
- token_only: DRF authenticates by token only (no SessionAuthentication fallback)
- no_browsable: JSON renderer/parser only
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, MIDDLEWARE, REST_FRAMEWORK

_variants = {v for v in os.environ.get("BENCH_VARIANT", "").split(",") if v}

if "no_health_check" in _variants:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

if "api_middleware" in _variants:
    MIDDLEWARE = [
        m
        for m in MIDDLEWARE
        if m
        in (
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "apps.core.lean.LeanAuthenticationMiddleware",
            "apps.core.lean.LeanSessionMiddleware",
        )
    ]

if "token_only" in _variants:
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
        "apps.accounts.tokens.ApiTokenAuthentication"
    ]

if "no_browsable" in _variants:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]
    REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["rest_framework.parsers.JSONParser"]
