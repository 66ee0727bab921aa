"""Every page carries a Content-Security-Policy that runs only our own script files, and no page or
template holds script the policy would have to allow inline."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from apps.projects.models import Membership, Role
from apps.training.models import RunMetric, RunStatus, TrainingRun
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


class PageScan(HTMLParser):
    """What on a page would need the policy to allow inline script, and where its links go."""

    def __init__(self):
        super().__init__()
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self.links: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]
        self.handlers += [
            f"<{tag} {name}={value}>"
            for name, value in attrs
            if value and value.strip().lower().startswith("javascript:")
        ]
        if tag == "script":
            data_only = values.get("type") == "application/json"
            self._in_inline_script = not ("src" in values or "nonce" in values or data_only)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script:
            self.inline_scripts.append(data.strip()[:80])


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.fixture
def busy_project():
    """A project with tasks, an annotator and a finished run, so its pages have content."""
    admin = StaffFactory(is_superuser=True)
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    add_member(project)
    for _ in range(3):
        make_task(project, texts=["![leak](https://evil.example/x.png?q=1) hi", "**bold** answer"])
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_pairwise",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=admin,
        metrics={"pairwise_accuracy": 0.8},
    )
    RunMetric.objects.create(run=run, step=1, name="loss", value=0.6)
    return project


def crawl(client, start: list[str], *, limit: int = 60) -> dict[str, object]:
    """GET pages breadth-first from `start`, following this site's links (not the Django admin's
    own pages beyond its index, nor file downloads); returns url -> response."""
    seen: dict[str, object] = {}
    queue = list(start)
    while queue and len(seen) < limit:
        url = urldefrag(queue.pop(0)).url
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        scan = PageScan()
        scan.feed(response.content.decode())
        for href in scan.links:
            target = urlsplit(href)
            if target.scheme or target.netloc or not target.path.startswith("/"):
                continue
            if target.path.startswith(("/admin/", "/static/", "/logout")) or "artifact" in href:
                continue
            queue.append(href)
    return seen


def test_every_page_an_admin_reaches_has_the_policy_and_no_inline_script(client, busy_project):
    client.force_login(busy_project.created_by)
    pages = crawl(client, ["/projects/", "/admin/", reverse("api-docs")])

    html_pages = {
        url: response
        for url, response in pages.items()
        if response.status_code == 200 and "text/html" in response.headers["Content-Type"]
    }
    assert len(html_pages) >= 12, sorted(html_pages)  # the crawl reached the app's pages
    for url, response in html_pages.items():
        policy = directives(response)
        assert policy["script-src"][0] == "'self'", url
        scan = PageScan()
        scan.feed(response.content.decode())
        assert scan.inline_scripts == [], url
        assert scan.handlers == [], url


def test_the_policy_allows_no_inline_or_remote_script_and_no_remote_image(client, busy_project):
    client.force_login(busy_project.created_by)
    policy = directives(client.get(reverse("projects:detail", args=[busy_project.pk])))

    assert policy["default-src"] == ["'self'"]
    assert set(policy["script-src"]) <= {"'self'"} | {
        v for v in policy["script-src"] if "nonce-" in v
    }
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]


def test_a_page_that_asks_for_a_nonce_gets_it_in_its_policy(rf):
    """Templates give an inline script nonce="{{ request.csp_nonce }}"; the header then names it."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.template import engines

    template = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}">1</script>')
    request = rf.get("/")
    middleware = CSPMiddleware(lambda r: HttpResponse(template.render({}, r)))

    response = middleware(request)

    nonce = re.search(r'nonce="([^"]+)"', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]


def test_templates_hold_no_inline_script_handlers_or_script_urls():
    """The pages the crawl cannot reach (chat, labeling kinds, partials) are held to it too."""
    offenders = []
    templates = [
        *(ROOT / "templates").rglob("*.html"),
        *(ROOT / "apps").glob("*/templates/**/*.html"),
    ]
    assert len(templates) > 40
    for template in sorted(templates):
        source = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", source):
            if "src=" not in tag and "nonce=" not in tag:
                offenders.append(f"{template.relative_to(ROOT)}: {tag}")
        for handler in re.findall(r"""\son[a-z]+\s*=\s*["']""", source):
            offenders.append(f"{template.relative_to(ROOT)}: {handler.strip()}")
        if "javascript:" in source:
            offenders.append(f"{template.relative_to(ROOT)}: javascript: URL")
    assert offenders == []


def test_htmx_is_told_not_to_inject_styles_or_evaluate_script():
    from django.template.loader import get_template

    source = Path(get_template("base.html").origin.name).read_text()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', source)
    assert config, "base.html has no htmx-config meta"
    assert (
        json.loads(config.group(1)).items()
        >= {
            "includeIndicatorStyles": False,
            "allowEval": False,
        }.items()
    )


def test_swagger_ui_is_served_from_our_own_static_files_with_its_script_as_a_file(client):
    html = client.get(reverse("api-docs")).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)

    static = "/" + settings.STATIC_URL.lstrip("/")
    assert [src for src in scripts if src.startswith(static + "drf_spectacular_sidecar/")]
    assert all(urlsplit(src).netloc == "" for src in scripts), scripts
    init = client.get(urldefrag(scripts[-1]).url.replace("&amp;", "&"))
    assert init.status_code == 200 and "SwaggerUIBundle" in init.content.decode()
    assert init.headers["Content-Type"].startswith("application/javascript")


def test_a_json_body_over_the_upload_limit_is_refused_before_it_is_parsed(client, admin_user):
    from apps.projects.models import Project

    client.force_login(admin_user)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"name": "big", "kind": "pairwise", "guidelines": "x" * (limit + 1)})

    response = client.post(reverse("project-list"), body, content_type="application/json")

    assert 400 <= response.status_code < 500
    assert not Project.objects.filter(name="big").exists()
    small = json.dumps({"name": "small", "kind": "pairwise", "guidelines": "x" * 100})
    assert (
        client.post(reverse("project-list"), small, content_type="application/json").status_code
        == 201
    )
