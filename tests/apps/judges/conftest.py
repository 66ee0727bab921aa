import re

import pytest

from apps.judges.services import judge_create, judge_job_create, judge_job_run
from apps.projects.models import Membership, Role
from tests.factories import ProjectFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def discard_port_allowed(settings):
    """A judge refused before it runs names a server at 127.0.0.1:9, where nothing listens."""
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:9"]


@pytest.fixture
def project(db):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project


def member(project, username: str):
    user = UserFactory(username=username)
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    return user


_ANSWER = re.compile(r"\[Answer (A|B)\]\n(.*?)\n\[End of answer", re.DOTALL)


def shown_answers(body: dict) -> dict[str, str]:
    """The two answers a pairwise request shows, by shown letter (the default template)."""
    return dict(_ANSWER.findall(body["messages"][-1]["content"]))


def content_judge(body: dict) -> str:
    """Picks the answer that says "good"; on an answer that says "tricky" it always answers A:
    a judge whose verdict on tricky pairs is only the order it saw them in."""
    answers = shown_answers(body)
    if any("tricky" in text for text in answers.values()):
        return "A slightly"
    return "A clearly" if "good" in answers["A"] else "B clearly"


def endpoint_judge(project, server, name: str = "gpt-judge", **fields):
    return judge_create(
        project=project,
        user=project.created_by,
        name=name,
        backend="endpoint",
        config={"base_url": server.base_url, "model": "judge-model", "timeout": 5, "backoff": 0.01},
        **fields,
    )


def run_all(judge, **fields):
    job = judge_job_create(judge=judge, user=judge.project.created_by, **fields)
    return judge_job_run(job_id=job.pk, worker="inline")
