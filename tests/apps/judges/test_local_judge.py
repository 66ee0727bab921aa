"""A local judge: a tiny GPT-2 read at its next token, in-process."""

import re

import pytest

from apps.core.jobs import JobStatus
from apps.generation import backends
from apps.judges.models import JudgeLabel, Order
from apps.judges.selectors import judge_position_bias
from apps.judges.services import judge_create
from apps.projects.models import FeedbackKind
from tests.apps.judges.conftest import run_all
from tests.factories import make_task
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db

SHORT = {"pairwise": "A: {{ response_a }}\nB: {{ response_b }}\nBetter: "}


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    yield build_tiny_gpt2(tmp_path_factory.mktemp("judge-models") / "tiny-gpt2")
    backends.clear_model_cache()


def local_judge(project, reference: str, name: str, batch_size: int):
    return judge_create(
        project=project,
        user=project.created_by,
        name=name,
        backend="local",
        config={"model": reference, "device": "cpu"},
        templates=SHORT,
        batch_size=batch_size,
    )


def probabilities(judge) -> dict[tuple[int, str], str]:
    return {
        (label.task_id, label.order): re.search(r"p=([0-9.]+)", label.reply)[1]
        for label in JudgeLabel.objects.filter(judge=judge)
    }


def test_a_local_judge_reads_both_orders_and_batching_changes_no_verdict(
    project, tiny_gpt2, settings
):
    reference = offer(settings, tiny_gpt2)
    tasks = [
        make_task(project, texts=[f"answer {i} first", f"the other, number {i}{'!' * i}"])
        for i in range(6)
    ]
    batched = local_judge(project, reference, "tiny batched", batch_size=4)
    one_by_one = local_judge(project, reference, "tiny one by one", batch_size=1)

    jobs = [run_all(batched), run_all(one_by_one)]

    assert [job.status for job in jobs] == [JobStatus.SUCCEEDED] * 2, [j.error for j in jobs]
    assert [(job.done, job.labels_written, job.unparsed) for job in jobs] == [(6, 12, 0)] * 2
    labels = JudgeLabel.objects.filter(judge=batched)
    assert {(label.task_id, label.order) for label in labels} == {
        (task.pk, order) for task in tasks for order in (Order.FORWARD, Order.REVERSED)
    }
    for label in labels:
        # The letter the model preferred is the side shown first or second; the stored choice is
        # that side's canonical letter, and the bias fact says which side it was.
        shown = label.reply[0]
        assert label.payload["choice"] == "AB"[label.display_order["AB".index(shown)]]
        assert label.first_shown_won is (shown == "A")
        assert label.payload["strength"] in ("negligibly", "slightly", "clearly", "much")
    # Left padding in a batch leaves each row's odds as they are alone.
    assert probabilities(batched) == probabilities(one_by_one)
    bias = judge_position_bias(judge=batched)
    assert bias.decisive == 12
    assert bias.first_wins == sum(label.first_shown_won for label in labels)


def test_a_local_judge_gives_thumbs_from_yes_and_no_odds(project, tiny_gpt2, settings):
    project.kind = FeedbackKind.THUMBS
    project.save()
    task = make_task(project, n_responses=1)
    judge = judge_create(
        project=project,
        user=project.created_by,
        name="tiny thumbs",
        backend="local",
        config={"model": offer(settings, tiny_gpt2), "device": "cpu"},
    )

    job = run_all(judge)

    assert job.status == JobStatus.SUCCEEDED, job.error
    (label,) = JudgeLabel.objects.filter(task=task)  # one response: one order
    assert label.order == Order.FORWARD
    assert label.payload == {"labels": [label.reply.startswith("yes")]}
