"""/api/docs/ renders every operation in chromium with the network cut off: Swagger UI comes from
drf-spectacular-sidecar's static files, and the schema from this server."""

from urllib.parse import urlsplit

import pytest

from tests.browser.test_content_security import watch_for_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_the_api_docs_list_every_operation_with_every_remote_request_blocked(page, live_server):
    local_host = urlsplit(live_server.url).hostname
    blocked: list[str] = []

    def refuse_remote(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in {local_host, "localhost", "127.0.0.1"}:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", refuse_remote)
    problems = watch_for_violations(page)

    schema = page.request.get(
        f"{live_server.url}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
    ).json()
    operations = sum(
        1 for item in schema["paths"].values() for method in item if method in HTTP_METHODS
    )

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.swagger-ui .opblock').length === n", arg=operations
    )

    assert operations > 0
    assert page.locator(".swagger-ui .opblock").count() == operations
    assert "Arbiter API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".swagger-ui .errors-wrapper").count() == 0  # no schema errors shown
    assert blocked == []  # nothing even tried to leave the machine
    assert problems == []
