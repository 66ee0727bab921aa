"""Pre-labelling: a judge's verdict shown to annotators as a suggestion, off by default."""

import pytest
from django.urls import reverse

from apps.judges.services import judge_update
from apps.labeling.models import Assignment
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import content_judge, endpoint_judge, member, run_all
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_a_judges_verdict_is_shown_only_once_an_admin_turns_pre_labelling_on(client, project):
    task = make_task(project, texts=["a good answer", "a poor answer"])
    with openai_server() as server:
        server.responder = content_judge
        judge = run_all(endpoint_judge(project, server)).judge
    client.force_login(member(project, "ann"))
    url = reverse("labeling:label", args=[project.pk])

    off = client.get(url).content.decode()
    judge_update(judge=judge, user=project.created_by, prelabel=True)
    on = client.get(url).content.decode()  # the same lease

    assert "data-judge-suggestions" not in off
    order = Assignment.objects.get(task=task).display_order
    good_side = "Left" if order[0] == task.items.get(position=0).response_id else "Right"
    assert f"gpt-judge: {good_side} is clearly better" in on
    assert "(unsure)" not in on
