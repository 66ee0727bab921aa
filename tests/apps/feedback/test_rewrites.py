"""Rewrites and demonstrations stored with the judgment: what is kept, what is refused."""

import pytest

from apps.feedback.rewrites import (
    MAX_WRITTEN_CHARS,
    InvalidWrittenResponse,
    word_edit_distance,
)
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind
from tests.factories import make_task

pytestmark = pytest.mark.django_db

ORIGINAL_A = "Paris is the capital of France."
ORIGINAL_B = "I think it is Lyon."


def _lease(project, annotator, **task):
    make_task(project, **task)
    return task_claim_next(project=project, annotator=annotator)


@pytest.fixture
def rewriting(project):
    project.allow_rewrite = True
    project.save()
    return project


def test_word_edit_distance_counts_whole_words_over_the_longer_text():
    # one substitution (the -> a) and one insertion (black) in a 7-word edit
    assert word_edit_distance("The cat sat on the mat.", "The black cat sat on a mat.") == 2 / 7
    assert word_edit_distance("same words", "same   words") == 0.0
    assert word_edit_distance("a b", "c d e f") == 1.0
    assert word_edit_distance("", "") == 0.0


def test_a_rewrite_of_the_chosen_response_is_stored_with_its_distance(rewriting, annotator):
    lease = _lease(rewriting, annotator, texts=[ORIGINAL_A, ORIGINAL_B])
    edit = "Paris is the capital and largest city of France."

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"choice": "A", "strength": "slightly"},
        written_response=f"  {edit}\n",
        edited_position=0,
    ).judgment

    judgment.refresh_from_db()
    assert judgment.written_response == edit
    assert judgment.edited_response.text == ORIGINAL_A
    assert judgment.edit_distance == pytest.approx(word_edit_distance(ORIGINAL_A, edit))
    assert 0 < judgment.edit_distance < 1


def test_after_both_bad_either_response_may_be_rewritten(rewriting, annotator):
    lease = _lease(rewriting, annotator, texts=[ORIGINAL_A, ORIGINAL_B])

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"choice": "both_bad"},
        written_response="It is Paris, not Lyon.",
        edited_position=1,
    ).judgment

    assert judgment.edited_response.text == ORIGINAL_B


def test_the_only_response_is_the_one_edited_when_no_position_is_given(rewriting, annotator):
    rewriting.kind = FeedbackKind.THUMBS
    rewriting.save()
    lease = _lease(rewriting, annotator, texts=[ORIGINAL_B])

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"labels": [False]},
        written_response="It is Paris.",
    ).judgment

    assert judgment.edited_response.text == ORIGINAL_B
    assert judgment.written_response == "It is Paris."


@pytest.mark.parametrize(
    ("allow_rewrite", "written_response", "edited_position", "reason"),
    [
        (True, "It is Marseille.", 1, "chose as best"),
        (False, "Paris.", 0, "no rewrites"),
        (True, "Paris is  the capital\nof France.", 0, "changes no word"),
        (True, "word " * (MAX_WRITTEN_CHARS // 5 + 1), 0, "at most"),
    ],
    ids=["not-the-chosen-response", "project-without-rewrites", "no-word-changed", "too-long"],
)
def test_a_refused_rewrite_stores_no_judgment_and_says_why(
    project, annotator, allow_rewrite, written_response, edited_position, reason
):
    project.allow_rewrite = allow_rewrite
    project.save()
    lease = _lease(project, annotator, texts=[ORIGINAL_A, ORIGINAL_B])

    with pytest.raises(InvalidWrittenResponse, match=reason):
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": "A", "strength": "clearly"},
            written_response=written_response,
            edited_position=edited_position,
        )
    assert not lease.task.judgments.exists()


def test_a_cancelled_edit_stores_a_plain_judgment(rewriting, annotator):
    lease = _lease(rewriting, annotator, texts=[ORIGINAL_A, ORIGINAL_B])

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"choice": "A", "strength": "clearly"},
        written_response="   ",
        edited_position=0,
    ).judgment

    assert (judgment.written_response, judgment.edited_response, judgment.edit_distance) == (
        "",
        None,
        None,
    )


def test_a_rewrite_is_stored_without_nul(rewriting, annotator):
    lease = _lease(rewriting, annotator, texts=[ORIGINAL_A, ORIGINAL_B])

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={"choice": "A", "strength": "clearly"},
        written_response="Paris\x00 is the capital \ud800 of France.",
        edited_position=0,
    ).judgment

    judgment.refresh_from_db()
    assert judgment.written_response == "Paris is the capital \ufffd of France."


def test_a_demonstration_task_is_the_prompt_alone_and_stores_the_written_answer(project, annotator):
    project.kind = FeedbackKind.DEMONSTRATION
    project.save()
    lease = _lease(project, annotator, n_responses=0)
    assert lease.display_order == []

    judgment = judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={},
        written_response="Here is how to bake bread: flour, water, salt, time.",
    ).judgment

    assert judgment.kind == "demonstration"
    assert judgment.payload == {}
    assert judgment.written_response.startswith("Here is how")
    assert judgment.edited_response is None
    lease.task.refresh_from_db()
    assert lease.task.judgment_count == 1


def test_an_empty_demonstration_is_refused(project, annotator):
    project.kind = FeedbackKind.DEMONSTRATION
    project.save()
    lease = _lease(project, annotator, n_responses=0)

    with pytest.raises(InvalidWrittenResponse, match="cannot be empty"):
        judgment_submit(
            assignment_id=lease.pk, annotator=annotator, payload={}, written_response=" \n "
        )
