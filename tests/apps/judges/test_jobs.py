"""Judge jobs run in-process against the scripted OpenAI-compatible server on 127.0.0.1."""

import pytest

from apps.core.jobs import JobStatus, SimulatedCrash, crash_at
from apps.judges.models import JudgeJob, JudgeLabel, Order
from apps.judges.selectors import judge_position_bias
from apps.judges.services import judge_job_cancel, judge_job_create, judge_job_resume, judge_job_run
from apps.labeling.models import Task
from tests.apps.generation.openai_server import Step, openai_server
from tests.apps.judges.conftest import content_judge, endpoint_judge, run_all, shown_answers
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def pair_tasks(project) -> dict[str, Task]:
    """T1, T2: the good answer at A; T3: at B; T4: a tricky pair the judge calls by order."""
    return {
        "T1": make_task(project, texts=["a good answer", "a poor answer"]),
        "T2": make_task(project, texts=["good, this one", "not this one"]),
        "T3": make_task(project, texts=["a poor answer", "a good answer"]),
        "T4": make_task(project, texts=["tricky one", "tricky two"]),
    }


def test_each_task_is_judged_in_both_orders_and_stored_in_canonical_positions(project):
    tasks = pair_tasks(project)
    with openai_server() as server:
        server.responder = content_judge
        judge = endpoint_judge(project, server, batch_size=3)
        job = run_all(judge)

        shown_first = [shown_answers(r["json"])["A"] for r in server.requests]

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.total, job.labels_written, job.unparsed) == (4, 4, 8, 0)
    # Every response was shown first once per task: as stored, then reversed.
    assert sorted(shown_first) == sorted(
        text for task in tasks.values() for text in task.responses.values_list("text", flat=True)
    )
    labels = {(label.task_id, label.order): label for label in JudgeLabel.objects.all()}
    assert len(labels) == 8
    t1, t3, t4 = tasks["T1"].pk, tasks["T3"].pk, tasks["T4"].pk
    assert labels[(t1, Order.FORWARD)].display_order == [0, 1]
    assert labels[(t1, Order.REVERSED)].display_order == [1, 0]
    # The judge said "B" on the reversed T1, meaning the stored A: kept as canonical A.
    assert labels[(t1, Order.REVERSED)].reply == "B clearly"
    assert labels[(t1, Order.REVERSED)].payload == {"choice": "A", "strength": "clearly"}
    assert labels[(t3, Order.FORWARD)].payload == {"choice": "B", "strength": "clearly"}
    assert labels[(t3, Order.REVERSED)].payload == {"choice": "B", "strength": "clearly"}
    assert labels[(t3, Order.REVERSED)].signed_strength == -3.0
    # The tricky pair: "A slightly" both times, i.e. the stored A, then the stored B.
    assert labels[(t4, Order.FORWARD)].payload == {"choice": "A", "strength": "slightly"}
    assert labels[(t4, Order.REVERSED)].payload == {"choice": "B", "strength": "slightly"}
    # Every request asked for a deterministic verdict.
    assert {r["json"]["temperature"] for r in server.requests} == {0.0}


def test_position_bias_is_the_share_of_first_shown_wins_and_orders_that_disagree(project):
    pair_tasks(project)
    with openai_server() as server:
        server.responder = content_judge
        judge = endpoint_judge(project, server)
        run_all(judge)

    bias = judge_position_bias(judge=judge)

    # Worked by hand: T1, T2 and T3 each win first once in two orders; T4 wins first twice:
    # 5 of 8 decisive verdicts; T4's two orders disagree: 1 of 4 tasks.
    assert (bias.decisive, bias.first_wins) == (8, 5)
    assert bias.first_position_share == pytest.approx(0.625)
    assert (bias.compared, bias.inconsistent) == (4, 1)
    assert bias.inconsistency_rate == pytest.approx(0.25)


def test_judge_labels_are_never_counted_toward_overlap_or_as_judgments(project):
    task = make_task(project, texts=["a good answer", "a poor answer"])
    with openai_server() as server:
        server.responder = content_judge
        run_all(endpoint_judge(project, server))

    task.refresh_from_db()
    assert task.judgment_count == 0
    assert task.judgments.count() == 0
    assert JudgeLabel.objects.filter(task=task).count() == 2


def test_a_reply_without_a_verdict_is_kept_with_no_payload(project):
    make_task(project, texts=["one", "two"])
    with openai_server(Step(reply="I cannot decide."), Step(reply="B much")) as server:
        job = run_all(endpoint_judge(project, server, batch_size=1))

    assert job.status == JobStatus.SUCCEEDED
    assert job.unparsed == 1
    assert JudgeLabel.objects.get(payload__isnull=True).reply == "I cannot decide."
    assert JudgeLabel.objects.get(payload__isnull=False).reply == "B much"


def test_a_cancel_stops_between_batches_and_resume_judges_only_what_is_left(project):
    for _ in range(4):
        make_task(project, texts=["a good answer", "a poor answer"])
    with openai_server() as server:
        server.responder = content_judge
        judge = endpoint_judge(project, server, batch_size=1)
        job = judge_job_create(judge=judge, user=project.created_by)
        with crash_at("judges.between_batches", hit=3), pytest.raises(SimulatedCrash):
            judge_job_run(job_id=job.pk, worker="inline")
        # The worker died after two batches; a cancel arrives; the reaper would end it.
        job.refresh_from_db()
        assert job.done == 2 and job.status == JobStatus.RUNNING
        JudgeJob.objects.filter(pk=job.pk).update(heartbeat_at=None, worker="gone")
        judge_job_cancel(job=job)
        job = judge_job_run(job_id=job.pk, worker="inline")
        assert job.status == JobStatus.CANCELLED
        requests_before = len(server.requests)

        judge_job_resume(job=job)
        job = judge_job_run(job_id=job.pk, worker="inline")

        assert job.status == JobStatus.SUCCEEDED, job.error
        assert (job.done, job.labels_written) == (4, 8)
        # Only the two tasks left were judged again: two orders each.
        assert len(server.requests) - requests_before == 4
    assert JudgeLabel.objects.count() == 8


def test_a_job_run_twice_judges_once(project):
    make_task(project, texts=["a good answer", "a poor answer"])
    with openai_server() as server:
        server.responder = content_judge
        job = run_all(endpoint_judge(project, server))
        again = judge_job_run(job_id=job.pk, worker="inline")
        assert len(server.requests) == 2

    assert again.status == JobStatus.SUCCEEDED and again.labels_written == 2


def test_a_server_that_keeps_failing_fails_the_job_with_the_reason(project):
    make_task(project, texts=["one", "two"])
    with openai_server(*[Step(status=503)] * 6) as server:
        job = run_all(endpoint_judge(project, server, batch_size=1))

    assert job.status == JobStatus.FAILED
    assert "503" in job.error
    assert JudgeLabel.objects.count() == 0


def test_a_new_job_skips_tasks_the_judge_has_labelled(project):
    make_task(project, texts=["a good answer", "a poor answer"])
    with openai_server() as server:
        server.responder = content_judge
        judge = endpoint_judge(project, server)
        run_all(judge)
        make_task(project, texts=["a poor answer", "a good answer"])
        job = run_all(judge)

    assert job.total == 1 and job.status == JobStatus.SUCCEEDED


def test_listwise_and_thumbs_replies_are_read_in_shown_order(project):
    project.kind = "listwise"
    project.save()
    task = make_task(project, texts=["XBEST", "XWORST", "XMID"])
    words = ("XBEST", "XMID", "XWORST")  # best to worst

    def ranker(body):
        """Ranks by content, naming each answer by the number it is shown under."""
        text = body["messages"][-1]["content"]
        return " > ".join(str(text[: text.index(w)].count("[Answer ")) for w in words)

    with openai_server() as server:
        server.responder = ranker
        job = run_all(endpoint_judge(project, server))

    assert job.status == JobStatus.SUCCEEDED, job.error
    payloads = {label.order: label.payload for label in JudgeLabel.objects.filter(task=task)}
    expected = {"not_rankable": False, "reason": "", "ranks": [1, 3, 2]}
    assert payloads == {Order.FORWARD: expected, Order.REVERSED: expected}
