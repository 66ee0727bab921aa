"""Consequence jobs: a model writes what happened after the user acted on a response."""

import pytest

from apps.core.errors import ApplicationError
from apps.core.jobs import JobStatus
from apps.corpus.models import Response
from apps.generation.consequences import DEFAULT_TEMPLATE, render_template
from apps.generation.models import ConsequenceTarget, Selection
from apps.generation.services import (
    consequence_job_create,
    generation_job_create,
    generation_job_run,
)
from apps.labeling.models import Assignment, Task
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.generation.openai_server import Step, completion, openai_server
from tests.factories import ProjectFactory, PromptFactory, add_member, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def hindsight(admin_user):
    project = ProjectFactory(kind=FeedbackKind.HINDSIGHT, created_by=admin_user)
    Membership.objects.create(project=project, user=admin_user, role=Role.ADMIN)
    return project


def server_model(server, model: str = "simulator", **config) -> dict:
    return {"type": "openai", "base_url": server.base_url, "model": model, "timeout": 5, **config}


def outcomes(count: int) -> list[Step]:
    return [Step(reply=f"Outcome {i}: the user lost a day.") for i in range(count)]


def user_turn(request) -> str:
    (message,) = request["json"]["messages"]
    assert message["role"] == "user"
    return message["content"]


def test_each_response_gets_a_consequence_and_each_pair_task_its_outcomes(hindsight, admin_user):
    tasks = [make_task(hindsight, n_responses=2) for _ in range(2)]
    with openai_server(*outcomes(4)) as server:
        job = consequence_job_create(
            project=hindsight, user=admin_user, backend=server_model(server), batch_size=3
        )
        assert job.total == 4
        job = generation_job_run(job_id=job.pk, worker="inline")

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.consequences_written, job.tasks_updated) == (4, 4, 2)
    asked = sorted(user_turn(r) for r in server.requests)
    for task in tasks:
        task.refresh_from_db()
        for item in task.items.select_related("response", "task__prompt"):
            response = item.response
            assert response.metadata["consequence"].startswith("Outcome ")
            assert response.metadata["consequence_job"] == job.pk
            assert response.metadata["consequence_model"] == "simulator"
            assert response.metadata["consequence"] in task.consequence
            assert f"begins “{response.text}”" in task.consequence
            expected = render_template(
                DEFAULT_TEMPLATE, messages=task.prompt.messages, response=response.text
            )
            assert expected in asked
        assert task.context["consequence_job"] == job.pk


def test_hindsight_tasks_are_served_once_their_consequence_is_simulated(hindsight, admin_user):
    task = make_task(hindsight, n_responses=1)
    annotator = add_member(hindsight)
    assert task_claim_next(project=hindsight, annotator=annotator) is None
    with openai_server(*outcomes(1)) as server:
        job = consequence_job_create(
            project=hindsight, user=admin_user, backend=server_model(server)
        )
        generation_job_run(job_id=job.pk, worker="inline")
    task.refresh_from_db()
    assert task.consequence == "Outcome 0: the user lost a day."
    assert task_claim_next(project=hindsight, annotator=annotator).task_id == task.pk


def test_per_task_consequences_follow_the_admins_template(hindsight, admin_user):
    single = make_task(hindsight, n_responses=1, texts=["Run `rm -rf ~ /tmp`."])
    pair = make_task(hindsight, n_responses=2, texts=["Use a VPN.", "Use Tor."])
    template = 'Q: {prompt}\nA: {response}\nWhat happened? Answer as {"outcome": "..."}.'
    with openai_server(*outcomes(2)) as server:
        job = consequence_job_create(
            project=hindsight,
            user=admin_user,
            backend=server_model(server, name="sim-7b"),
            template=template,
            target=ConsequenceTarget.TASKS,
            max_tokens=50,
            temperature=0.2,
        )
        job = generation_job_run(job_id=job.pk, worker="inline")

    assert job.status == JobStatus.SUCCEEDED
    asked = sorted(user_turn(r) for r in server.requests)
    assert asked == sorted(
        [
            f"Q: {single.prompt.text}\nA: Run `rm -rf ~ /tmp`.\n"
            'What happened? Answer as {"outcome": "..."}.',
            f"Q: {pair.prompt.text}\nA: Response A:\nUse a VPN.\n\nResponse B:\nUse Tor.\n"
            'What happened? Answer as {"outcome": "..."}.',
        ]
    )
    assert all(r["json"]["max_tokens"] == 50 for r in server.requests)
    for task in (single, pair):
        task.refresh_from_db()
        assert task.consequence.startswith("Outcome ")
        assert task.context["consequence_model"] == "sim-7b"
    assert not any("consequence" in r.metadata for r in Response.objects.all())


def test_a_task_already_shown_keeps_its_consequence(hindsight, admin_user):
    shown = make_task(hindsight, n_responses=1, consequence="The user was fine.")
    task_claim_next(project=hindsight, annotator=add_member(hindsight))
    Task.objects.filter(pk=shown.pk).update(consequence="")  # say it was cleared by hand
    assert Assignment.objects.filter(task=shown).exists()
    with pytest.raises(ApplicationError, match="No task matches"):
        consequence_job_create(
            project=hindsight,
            user=admin_user,
            backend={"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
            selection=Selection.ALL,
        )


def test_imported_response_consequences_are_kept_and_fill_their_task(hindsight, admin_user):
    task = make_task(hindsight, n_responses=2)
    for item in task.items.all():
        Response.objects.filter(pk=item.response_id).update(
            metadata={"consequence": f"Imported outcome {item.position}."}
        )
    with openai_server() as server:
        job = consequence_job_create(
            project=hindsight, user=admin_user, backend=server_model(server)
        )
        job = generation_job_run(job_id=job.pk, worker="inline")
    assert (job.status, job.total, job.tasks_updated) == (JobStatus.SUCCEEDED, 0, 1)
    assert server.requests == []
    task.refresh_from_db()
    assert "Imported outcome 0." in task.consequence and "Imported outcome 1." in task.consequence


def test_a_failing_simulator_fails_the_job_keeping_the_consequences_written(hindsight, admin_user):
    first, second = make_task(hindsight, n_responses=1), make_task(hindsight, n_responses=1)
    with openai_server(Step(reply="It went fine."), *[Step(status=500, body="boom")] * 2) as server:
        job = consequence_job_create(
            project=hindsight,
            user=admin_user,
            backend=server_model(server, max_retries=1, backoff=0.01),
            target=ConsequenceTarget.TASKS,
            batch_size=1,
        )
        job = generation_job_run(job_id=job.pk, worker="inline")
    assert job.status == JobStatus.FAILED and "HTTP 500" in job.error
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.consequence, second.consequence) == ("It went fine.", "")
    assert job.done == 1


def test_consequences_follow_a_generation_job_end_to_end(hindsight, admin_user):
    PromptFactory(project=hindsight)
    with openai_server(Step(body=completion("Answer one.", "Answer two.")), *outcomes(2)) as server:
        generated = generation_job_create(
            project=hindsight, user=admin_user, backends=[server_model(server, "policy")]
        )
        assert generation_job_run(job_id=generated.pk, worker="inline").tasks_created == 1
        simulated = consequence_job_create(
            project=hindsight, user=admin_user, backend=server_model(server)
        )
        assert (
            generation_job_run(job_id=simulated.pk, worker="inline").status == JobStatus.SUCCEEDED
        )
    task = Task.objects.get(project=hindsight)
    assert task.context == {"generation_job": generated.pk, "consequence_job": simulated.pk}
    assert task.consequence.count("Outcome ") == 2


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (FeedbackKind.PAIRWISE, {}, "hindsight projects only"),
        (FeedbackKind.HINDSIGHT, {"template": "What happened after {prompt}?"}, "{response}"),
    ],
)
def test_a_consequence_job_that_cannot_work_is_refused(admin_user, kind, change, message):
    project = ProjectFactory(kind=kind, created_by=admin_user)
    make_task(project, n_responses=1)
    with pytest.raises(ApplicationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        consequence_job_create(
            project=project,
            user=admin_user,
            backend={"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
            **change,
        )


def test_the_template_fills_placeholders_in_one_pass_and_leaves_other_braces():
    messages = [
        {"role": "user", "content": "Say {response} literally"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "Again"},
    ]
    text = render_template("{prompt} | {response} | {other} {}", messages=messages, response="R")
    assert text == "User: Say {response} literally\n\nAssistant: ok\n\nUser: Again | R | {other} {}"
