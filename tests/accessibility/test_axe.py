"""axe-core (vendored in axe-playwright-python) on every page of the navigation, as a project
admin, as an annotator with a task in every feedback kind, and signed out. A page fails on any
violation axe rates "serious" or "critical"; the failure lists each rule, its help and the nodes.

The pages share one seeded world and one server for the whole module (a world per page would
cost a database flush per page). The module fixture, set up before any test's transaction
opens, seeds the database and commits, serves it from its own thread, and flushes it at the
end; each test's own transaction (the plain `django_db` mark) writes nothing."""

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from apps.projects.models import FeedbackKind, Membership, Role
from apps.projects.services import principle_save
from tests.factories import ProjectFactory, make_task
from tests.security.world import ANNOTATOR, PROJECT_ADMIN, world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

AXE_JS = Path(__import__("axe_playwright_python").__file__).with_name("axe.min.js")
FAILING_IMPACTS = ("serious", "critical")
ANONYMOUS = "anonymous"

# Runs in the page: the script is evaluated over the DevTools protocol, which the page's
# Content-Security-Policy does not govern, so the page keeps its real policy while axe runs.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ' — ' + n.failureSummary.split('\\n').slice(1).join('; ') : '')),
  }));
}"""


@dataclass
class Site:
    url: str
    world: object
    labeling: dict  # kind name -> project the annotator labels in
    cookies: dict  # role -> session cookie


def _labeling_projects(world) -> dict:
    """One project per labeling mode, each with an open task for the world's annotator."""
    admin, annotator = world.users[PROJECT_ADMIN], world.users[ANNOTATOR]

    def project_of(kind, texts, **fields):
        project = ProjectFactory(kind=kind, created_by=admin, name=f"{kind} project", **fields)
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
        Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
        for n in range(2):
            make_task(
                project,
                texts=[f"Answer {i} to question {n}: *some* markdown." for i in texts],
                consequence="The user followed the advice; it worked.",
            )
        return project

    projects = {
        # The world's pairwise project has a rubric item and optional critiques.
        "pairwise, rubric and critique": world.project,
        "listwise": project_of(FeedbackKind.LISTWISE, range(4)),
        "principles": project_of(FeedbackKind.PRINCIPLES, range(1)),
        "hindsight": project_of(FeedbackKind.HINDSIGHT, range(2)),
        "thumbs": project_of(FeedbackKind.THUMBS, range(1)),
        "demonstration": project_of(FeedbackKind.DEMONSTRATION, range(0)),
        "rewrites": project_of(FeedbackKind.PAIRWISE, range(2), allow_rewrite=True),
    }
    for key, text in (("answers", "The response answers the question."), ("safe", "It is safe.")):
        principle_save(project=projects["principles"], key=key, text=text)
    return projects


def _session_cookie(url: str, user) -> dict:
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url}


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("axe-media")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=fast):
        world = world_build(media_root=media)
        labeling = _labeling_projects(world)
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        # The first request imports every view module (half a minute on a loaded machine); done
        # here, so that no page test spends its navigation timeout on it.
        try:
            urllib.request.urlopen(server.url + reverse("login"), timeout=300).close()
            cookies = {
                role: _session_cookie(server.url, world.users[role])
                for role in (PROJECT_ADMIN, ANNOTATOR)
            }
            yield Site(server.url, world, labeling, cookies)
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def pages(browser, site):
    """One browser context (and tab) per role, kept for the module."""
    axe_source = AXE_JS.read_text()
    opened, contexts = {}, []
    for role in (PROJECT_ADMIN, ANNOTATOR, ANONYMOUS):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        if role in site.cookies:
            context.add_cookies([site.cookies[role]])
        page = context.new_page()
        page.set_default_timeout(60_000)  # a loaded machine answers slowly, not wrongly
        page.axe_source = axe_source
        opened[role] = page
        contexts.append(context)
    yield opened
    for context in contexts:
        context.close()


def _objects(site: Site) -> dict:
    w, o = site.world, site.world.objects
    return {
        "p": w.project.pk,
        "chat": w.chat_project.pk,
        "task": o["task"].pk,
        "run": o["run"].pk,
        "import_job": o["import_job"].pk,
        "dataset_import": o["dataset_import"].pk,
        "generation_job": o["generation_job"].pk,
        "judge": o["judge"].pk,
        "judge_job": o["judge_job"].pk,
        "conversation": o["conversation"].pk,
        "battle": o["battle"].pk,
        "secret": o["invitation_secret"],
    }


# (role, URL name, kwargs as keys of `_objects`). Every page of the top bar and the project
# navigation, and each page those link to.
ADMIN_PAGES = [
    ("projects:list", {}),
    ("projects:new", {}),
    ("projects:detail", {"project_id": "p"}),
    ("projects:settings", {"project_id": "p"}),
    ("projects:principles", {"project_id": "p"}),
    ("imports:new", {"project_id": "p"}),
    ("imports:detail", {"job_id": "import_job"}),
    ("exports:home", {"project_id": "p"}),
    ("exports:import-new", {"project_id": "p"}),
    ("exports:import-detail", {"import_id": "dataset_import"}),
    ("dashboard:overview", {"project_id": "p"}),
    ("dashboard:judgments", {"project_id": "p"}),
    ("dashboard:leaderboard", {"project_id": "p"}),
    ("dashboard:compare", {"project_id": "p"}),
    ("dashboard:disagreements", {"project_id": "p"}),
    ("dashboard:jobs", {"project_id": "p"}),
    ("quality:table", {"project_id": "p"}),
    ("quality:task", {"project_id": "p", "task_id": "task"}),
    ("training:list", {"project_id": "p"}),
    ("training:detail", {"run_id": "run"}),
    ("generation:list", {"project_id": "p"}),
    ("generation:new", {"project_id": "p"}),
    ("generation:consequences-new", {"project_id": "p"}),
    ("generation:detail", {"job_id": "generation_job"}),
    ("generation:rounds", {"project_id": "p"}),
    ("autopilot:home", {"project_id": "p"}),
    ("judges:list", {"project_id": "p"}),
    ("judges:calibration", {"project_id": "p"}),
    ("judges:detail", {"judge_id": "judge"}),
    ("judges:job", {"job_id": "judge_job"}),
    ("arena:home", {"project_id": "p"}),
    ("arena:contestants", {"project_id": "p"}),
    ("teams:team", {"project_id": "p"}),
    ("chat:home", {"project_id": "chat"}),
    ("chat:settings", {"project_id": "chat"}),
    ("accounts:tokens", {}),
    ("api-docs", {}),
]
ANNOTATOR_PAGES = [
    ("projects:list", {}),
    ("projects:detail", {"project_id": "p"}),
    ("accounts:tokens", {}),
    ("chat:home", {"project_id": "chat"}),
    ("chat:conversation", {"conversation_id": "conversation"}),  # chat reactions
    ("arena:home", {"project_id": "p"}),
    ("arena:battle", {"battle_id": "battle"}),
]
LABELING_MODES = [
    "pairwise, rubric and critique",
    "listwise",
    "principles",
    "hindsight",
    "thumbs",
    "demonstration",
    "rewrites",
]
ANONYMOUS_PAGES = [("login", {}), ("teams:accept", {"secret": "secret"})]

PAGES = (
    [(PROJECT_ADMIN, name, kwargs) for name, kwargs in ADMIN_PAGES]
    + [(ANNOTATOR, name, kwargs) for name, kwargs in ANNOTATOR_PAGES]
    + [(ANNOTATOR, "labeling:label", {"project_id": mode}) for mode in LABELING_MODES]
    + [(ANONYMOUS, name, kwargs) for name, kwargs in ANONYMOUS_PAGES]
)


def _page_id(entry) -> str:
    role, name, kwargs = entry
    mode = f" ({kwargs['project_id']})" if name == "labeling:label" else ""
    return f"{role.split()[-1]}: {name}{mode}"


def _url(site: Site, name: str, kwargs: dict) -> str:
    objects = _objects(site)
    filled = {}
    for key, value in kwargs.items():
        if value in site.labeling:
            filled[key] = site.labeling[value].pk
        else:
            filled[key] = objects[value]
    return site.url + reverse(name, kwargs=filled)


def axe_violations(page, *, impacts=FAILING_IMPACTS) -> list[dict]:
    """Runs axe on the page as it is now; the violations of the given impacts."""
    page.evaluate(page.axe_source)
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        lines += [f"    {node}" for node in v["nodes"][:8]]
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


@pytest.mark.parametrize("entry", PAGES, ids=[_page_id(e) for e in PAGES])
def test_page_has_no_serious_or_critical_axe_violation(pages, site, entry):
    role, name, kwargs = entry
    page = pages[role]
    response = page.goto(_url(site, name, kwargs), wait_until="load")
    assert response is not None and response.status < 400, f"{name}: {response and response.status}"
    page.wait_for_timeout(200)  # htmx "load" triggers and deferred scripts get their turn
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def test_the_check_sees_a_violation_when_there_is_one(pages):
    """A blank page with an unlabeled input, an unnamed button and grey-on-white text fails."""
    page = pages[ANONYMOUS]
    page.set_content(
        '<html><body><main><input type="text"><button></button>'
        '<p style="color:#ccc;background:#fff">faint</p></main></body></html>'
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "button-name", "color-contrast", "html-has-lang"} <= found
