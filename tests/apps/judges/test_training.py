"""A training run takes the judges' pairs only when asked, at the weight asked."""

import pytest

from tests.apps.exports.helpers import judge
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import content_judge, endpoint_judge, member, run_all
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def launch(project, **kwargs):
    from apps.training.services import training_run_launch

    return training_run_launch(
        project=project,
        user=project.created_by,
        objective="reward_pairwise",
        eval_share=0.3,  # by prompt: some 12 of 40 held out, whatever the prompts' ids
        **kwargs,
    )


def test_a_run_trains_on_judges_only_when_asked_and_at_their_weight(project):
    person = member(project, "ann")
    for i in range(40):
        task = make_task(project, texts=[f"a good answer {i}", f"a poor answer {i}"])
        judge(task, person, {"choice": "A", "strength": "clearly"})
    with openai_server() as server:
        server.responder = content_judge
        run_all(endpoint_judge(project, server))

    people_only = launch(project)
    with_judges = launch(project, judges_weight=0.3)

    assert people_only.snapshot.row_count == 40
    assert "include_judges" not in people_only.snapshot.options
    assert with_judges.snapshot.row_count == 80
    assert with_judges.snapshot.options["include_judges"] is True
    assert with_judges.snapshot.options["judges_weight"] == 0.3
