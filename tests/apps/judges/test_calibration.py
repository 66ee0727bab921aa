"""The calibration page: each judge against the human majority, by kind and by annotator."""

import pytest
from django.urls import reverse

from apps.judges.selectors import calibration_report
from tests.apps.exports.helpers import judge
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import content_judge, endpoint_judge, member, run_all
from tests.factories import UserFactory, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(project):
    """T1: the judge says A, people A, A, B. T2: the judge A, people B, B. T3: the judge B,
    people B. T4: the judge's orders disagree (a tie); people A."""
    u1, u2, u3 = member(project, "u1"), member(project, "u2"), member(project, "u3")
    t1 = make_task(project, texts=["a good answer", "a poor answer"])
    t2 = make_task(project, texts=["good, says the judge", "better, say people"])
    t3 = make_task(project, texts=["a poor answer", "a good answer"])
    t4 = make_task(project, texts=["tricky one", "tricky two"])
    t4.prompt.messages = [{"role": "user", "content": "<script>alert(1)</script> which?"}]
    t4.prompt.save()
    for task, votes in (
        (t1, {u1: "A", u2: "A", u3: "B"}),
        (t2, {u1: "B", u2: "B"}),
        (t3, {u1: "B"}),
        (t4, {u1: "A"}),
    ):
        for person, choice in votes.items():
            judge(task, person, {"choice": choice, "strength": "clearly"})
    with openai_server() as server:
        server.responder = content_judge
        run_all(endpoint_judge(project, server))
    return t1, t2, t3, t4


def test_a_judge_is_measured_against_the_majority_with_hand_worked_figures(project, calibrated):
    _, t2, _, t4 = calibrated

    (report,) = calibration_report(project=project)

    # (judge, majority): (A, A), (A, B), (B, B), (tie, A): accuracy 2/4; κ: p_e = 2/4·2/4 +
    # 1/4·2/4 = 3/8, κ = (1/2 − 3/8) / (5/8) = 0.2; α (nominal) = 5/19.
    assert report.overall.units == 4
    assert report.overall.accuracy == pytest.approx(0.5)
    assert report.overall.kappa == pytest.approx(0.2)
    assert report.overall.alpha == pytest.approx(5 / 19)
    assert set(report.by_kind) == {"pairwise"}
    by_person = dict(report.by_annotator)
    assert by_person["u1"].units == 4 and by_person["u1"].accuracy == pytest.approx(0.5)
    # u2: (A, A), (A, B): p_o = 1/2, p_e = 1 · 1/2: κ = 0.
    assert by_person["u2"].accuracy == pytest.approx(0.5)
    assert by_person["u2"].kappa == pytest.approx(0.0)
    assert by_person["u3"].units == 1 and by_person["u3"].accuracy == 0.0
    # Most against the judge first: T2 (2 of 2 votes), then T4 (1 of 1).
    assert [d.task_id for d in report.disagreements] == [t2.pk, t4.pk]
    assert report.disagreements[0].votes == {"B": 2}
    assert report.bias.first_position_share == pytest.approx(5 / 8)


def test_the_calibration_page_shows_each_judge_escaped(client, project, calibrated):
    client.force_login(project.created_by)

    response = client.get(reverse("judges:calibration", args=[project.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-judge="gpt-judge"' in html
    assert "0.200" in html  # κ
    assert f'data-task="{calibrated[3].pk}"' in html
    # A prompt is text, never markup.
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; which?" in html


def test_another_projects_admin_gets_404(client, project, calibrated):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(reverse("judges:calibration", args=[project.pk]))

    assert response.status_code == 404


def test_an_excluded_annotators_labels_leave_the_calibration(project, calibrated):
    from django.utils import timezone

    from apps.projects.models import Membership

    Membership.objects.filter(project=project, user__username="u3").update(
        excluded_at=timezone.now()
    )

    (report,) = calibration_report(project=project)

    assert "u3" not in dict(report.by_annotator)
    assert report.overall.units == 4  # T1's majority is still A (u1 and u2)
