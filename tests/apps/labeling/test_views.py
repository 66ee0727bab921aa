from html.parser import HTMLParser

import pytest
from django.urls import reverse

from apps.feedback.models import Judgment
from apps.labeling.models import Assignment
from tests.factories import ProjectFactory, add_member, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator_client(client, annotator):
    client.force_login(annotator)
    return client


def test_labeling_page_shows_prompt_both_responses_and_shortcuts(annotator_client, project):
    make_task(project, texts=["Use `ls -la`.", "Try **dir**."])
    page = annotator_client.get(reverse("labeling:label", args=[project.pk])).content.decode()
    assert "<code>ls -la</code>" in page and "<strong>dir</strong>" in page
    assert "Keyboard shortcuts" in page and "<kbd>Enter</kbd> submit" in page
    assert "Judged <strong data-judged>0</strong>" in page


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_responses_with_script_or_onerror_render_inert(annotator_client, project):
    make_task(
        project, texts=["<script>window.pwned=1</script>", '<img src=x onerror="window.pwned=1">']
    )
    page = annotator_client.get(reverse("labeling:label", args=[project.pk])).content.decode()
    elements = _Elements()
    elements.feed(page)
    assert not any("pwned" in code for code in elements.scripts)
    assert not [
        tag for tag, attrs in elements.found if any(name.startswith("on") for name in attrs)
    ]
    assert not [attrs for tag, attrs in elements.found if tag == "img"]
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page


def test_htmx_submit_stores_the_judgment_and_swaps_in_the_next_task(
    annotator_client, project, annotator
):
    first, second = make_task(project), make_task(project)
    annotator_client.get(reverse("labeling:label", args=[project.pk]))
    lease = Assignment.objects.get(annotator=annotator)
    answer = annotator_client.post(
        reverse("labeling:submit", args=[project.pk, lease.pk]),
        {"choice": "B", "strength": "slightly", "duration_ms": "900", "phase": "main"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "<html" not in body, "htmx gets the panel only"
    assert "Saved." in body and "Judged <strong data-judged>1</strong>" in body
    judgment = Judgment.objects.get()
    assert (judgment.task_id, judgment.payload) == (
        lease.task_id,
        {"choice": "B", "strength": "slightly"},
    )
    assert (
        Assignment.objects.filter(annotator=annotator, status="active").get().task_id
        == ({first.pk, second.pk} - {lease.task_id}).pop()
    )


def test_invalid_htmx_submit_shows_the_error_and_keeps_the_task(
    annotator_client, project, annotator
):
    make_task(project)
    annotator_client.get(reverse("labeling:label", args=[project.pk]))
    lease = Assignment.objects.get(annotator=annotator)
    answer = annotator_client.post(
        reverse("labeling:submit", args=[project.pk, lease.pk]),
        {"choice": "A"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 422
    assert "strength must be one of" in answer.content.decode()
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=lease.pk).status == "active"


def test_annotator_gets_404_for_another_projects_labeling_page(annotator_client):
    foreign = ProjectFactory()
    make_task(foreign)
    assert annotator_client.get(reverse("labeling:label", args=[foreign.pk])).status_code == 404
    assert annotator_client.get(reverse("projects:detail", args=[foreign.pk])).status_code == 404


def test_submitting_on_someone_elses_lease_is_404_and_stores_nothing(client, project):
    make_task(project)
    owner, intruder = add_member(project), add_member(project)
    client.force_login(owner)
    client.get(reverse("labeling:label", args=[project.pk]))
    lease = Assignment.objects.get(annotator=owner)
    client.force_login(intruder)
    answer = client.post(reverse("labeling:submit", args=[project.pk, lease.pk]), {"choice": "tie"})
    assert answer.status_code == 404
    assert not Judgment.objects.exists()


def test_anonymous_visitor_is_sent_to_login(client, project):
    answer = client.get(reverse("labeling:label", args=[project.pk]))
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_annotator_cannot_open_the_import_page(annotator_client, project):
    assert annotator_client.get(reverse("imports:new", args=[project.pk])).status_code == 404
