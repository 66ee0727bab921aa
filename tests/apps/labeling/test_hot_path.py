"""The token-authenticated labeling loop's cost: SQL statements per request, and a lean stack."""

import pytest
from rest_framework.test import APIClient

from apps.feedback.models import Judgment
from apps.labeling.models import Assignment, AssignmentStatus, Task
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    api_token,
    make_task,
    make_tasks,
)

BODY = {"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 1000}


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user, scope='label')}")
    return client


@pytest.mark.postgres
@pytest.mark.django_db
def test_next_task_takes_two_statements_and_submit_three(
    django_assert_max_num_queries,
):
    project = ProjectFactory(overlap=2)
    make_tasks(project, 3)
    client = _client(add_member(project, UserFactory()))
    for _ in range(3):
        with django_assert_max_num_queries(2):  # token with project, claim
            lease = client.post(f"/api/projects/{project.pk}/tasks/next/")
        assert lease.status_code == 200, lease.content
        with django_assert_max_num_queries(3):  # token with lease, write, webhook endpoints
            stored = client.post(
                f"/api/assignments/{lease.json()['assignment']}/judgment/", BODY, format="json"
            )
        assert stored.status_code == 201, stored.content
    with django_assert_max_num_queries(2):
        assert client.post(f"/api/projects/{project.pk}/tasks/next/").status_code == 204
    assert Judgment.objects.count() == 3
    assert set(Task.objects.values_list("judgment_count", flat=True)) == {1}
    assert not Assignment.objects.filter(status=AssignmentStatus.ACTIVE).exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_asking_again_returns_the_open_lease_and_a_double_submit_the_stored_judgment(
    django_assert_max_num_queries,
):
    project = ProjectFactory(overlap=1)
    make_tasks(project, 2)
    client = _client(add_member(project, UserFactory()))
    first = client.post(f"/api/projects/{project.pk}/tasks/next/").json()
    with django_assert_max_num_queries(4):
        again = client.post(f"/api/projects/{project.pk}/tasks/next/").json()
    assert again == first
    assert [r["letter"] for r in first["responses"]] in (["A", "B"], ["B", "A"])
    url = f"/api/assignments/{first['assignment']}/judgment/"
    stored = client.post(url, BODY, format="json")
    twice = client.post(url, BODY, format="json")
    assert (stored.status_code, twice.status_code) == (201, 200)
    assert twice.json()["id"] == stored.json()["id"]
    assert stored.json()["payload"] == {"choice": "A", "strength": "clearly"}
    assert Judgment.objects.get().chosen_position == 0


@pytest.mark.django_db
def test_token_labeling_requests_pass_sessions_csrf_and_messages_by(rf):
    from apps.core.lean import (
        LeanCsrfViewMiddleware,
        LeanMessageMiddleware,
        LeanSessionMiddleware,
    )

    seen = {}

    def view(request):
        seen["session"] = hasattr(request, "session")
        seen["messages"] = hasattr(request, "_messages")
        from django.http import HttpResponse

        return HttpResponse()

    token = rf.post("/api/assignments/7/judgment/", HTTP_AUTHORIZATION="Token abc")
    browser = rf.post("/api/assignments/7/judgment/")
    stack = LeanSessionMiddleware(LeanMessageMiddleware(view))
    stack(token)
    assert seen == {"session": False, "messages": False}
    stack(browser)
    assert seen == {"session": True, "messages": True}
    csrf = LeanCsrfViewMiddleware(view)
    assert csrf.process_view(token, view, (), {}) is None
    assert csrf.process_view(browser, view, (), {}).status_code == 403


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_claim_passes_over_filled_tasks_in_the_index_without_reading_their_rows():
    from django.db import connection
    from django.utils import timezone

    from apps.labeling.sql import claim_sql

    project = ProjectFactory(overlap=2)
    prompt = make_task(project).prompt
    # A project's size, where the planner's choice is the production one (with a few dozen
    # tasks, reading them all and sorting them is as cheap): 2,900 filled tasks, then 100 open.
    Task.objects.bulk_create(
        Task(project=project, prompt=prompt, kind=project.kind, judgment_count=2 * (i < 2900))
        for i in range(3000)
    )
    annotator = add_member(project, UserFactory())
    now = timezone.now()
    params = {
        "project": project.pk,
        "annotator": annotator.pk,
        "kind": project.kind,
        "overlap": project.overlap,
        "now": now,
        "expires": now,
        "want_gold": False,
        "skip": [],
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'labeling_task'")
        task_indexes = {name for (name,) in cursor.fetchall()} - {"labeling_task_pkey"}
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("EXPLAIN (FORMAT JSON) " + claim_sql(hindsight=False), params)
        plan = cursor.fetchone()[0][0]["Plan"]
    nodes = list(_plan_nodes(plan))
    # Every read of the queue (the first and the second choice, gold or not; an index scan or a
    # bitmap) goes through the open-queue index with the count in its condition; the tasks of
    # the lease are read by their key.
    queue_reads = [
        (node["Node Type"], node["Index Name"], node.get("Index Cond", ""))
        for node in nodes
        if node.get("Index Name") in task_indexes
    ]
    shapes = [(node["Node Type"], node.get("Index Name")) for node in nodes]
    assert queue_reads, shapes
    assert all(
        name == "task_open_queue_idx" and "judgment_count <" in condition
        for _, name, condition in queue_reads
    ), queue_reads
    assert not [
        n for n in nodes if n.get("Relation Name") == "labeling_task" and "Seq" in n["Node Type"]
    ], shapes
