"""Every URL the site answers, read from the resolver at run time (so a new URL is seen the
moment it is added), with the HTTP methods its view accepts and its kwargs filled from a
seeded world."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

ADMIN_SITE = "admin"  # Django's admin is one entry (staff only), not one per model page
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name, e.g. "projects:detail"; "admin" for the admin site
    pattern: str
    module: str  # the module of the view, which says what a `job_id` means
    kwarg_names: tuple[str, ...]
    methods: tuple[str, ...]
    is_api: bool


def _methods(callback) -> tuple[str, ...]:
    """What the view accepts: a DRF or class-based view says; a function view is probed with
    the two methods a browser sends (GET, POST) — its decorators would refuse the others."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None:
        return ("GET", "POST")
    allowed = {m.upper() for m in getattr(cls, "http_method_names", ())}
    return tuple(m for m in PROBED_METHODS if m in allowed and hasattr(cls, m.lower()))


def _kwarg_names(pattern) -> tuple[str, ...]:
    text = str(pattern)
    names = re.findall(r"<(?:\w+:)?(\w+)>", text) + re.findall(r"\(\?P<(\w+)>", text)
    return tuple(dict.fromkeys(names))


def all_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(resolver, prefix: str, namespace: str | None, kwarg_prefix: tuple[str, ...]):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name == "admin":
                    routes.append(
                        Route(ADMIN_SITE, prefix + str(entry.pattern), "django.contrib.admin",
                              (), ("GET", "POST"), False)
                    )  # fmt: skip
                    continue
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, prefix + str(entry.pattern), inner,
                     kwarg_prefix + _kwarg_names(entry.pattern))  # fmt: skip
            elif isinstance(entry, URLPattern):
                if not entry.name:
                    raise AssertionError(
                        f"The URL {prefix}{entry.pattern} has no name: name it, so that the "
                        "authorization matrix can list who may use it."
                    )
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                callback = entry.callback
                routes.append(
                    Route(
                        name=name,
                        pattern=prefix + str(entry.pattern),
                        module=callback.__module__,
                        kwarg_names=kwarg_prefix + _kwarg_names(entry.pattern),
                        methods=_methods(callback),
                        is_api=hasattr(callback, "cls"),
                    )
                )

    walk(get_resolver(), "/", None, ())
    names = [route.name for route in routes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"URL names used twice (the matrix keys by name): {duplicates}"
    return routes


def route_url(route: Route, kwargs: dict) -> str:
    if route.name == ADMIN_SITE:
        return reverse("admin:index")
    return reverse(route.name, kwargs=kwargs)


def openapi_operations() -> list[tuple[str, str]]:
    """(path template, METHOD) of every operation in the OpenAPI schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, method.upper())
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in PROBED_METHODS
    ]
