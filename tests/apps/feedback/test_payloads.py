import pytest

from apps.feedback.payloads import InvalidPayload, TaskShape, strength_step, validate_payload

PAIR = TaskShape(response_texts=("first answer", "second answer"))


def test_pairwise_choice_with_strength_is_normalized():
    assert validate_payload(
        kind="pairwise", payload={"choice": "B", "strength": "clearly", "junk": 1}, shape=PAIR
    ) == {
        "choice": "B",
        "strength": "clearly",
    }


def test_pairwise_tie_takes_no_strength():
    assert (
        validate_payload(kind="pairwise", payload={"choice": "tie"}, shape=PAIR)["strength"] is None
    )
    with pytest.raises(InvalidPayload, match="no strength"):
        validate_payload(kind="pairwise", payload={"choice": "tie", "strength": "much"}, shape=PAIR)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"choice": "C", "strength": "much"}, "choice must be one of"),
        ({"choice": "A"}, "strength must be one of"),
        ({"choice": "A", "strength": "enormously"}, "strength must be one of"),
        (["A"], "JSON object"),
    ],
)
def test_pairwise_rejects_malformed_payloads(payload, message):
    with pytest.raises(InvalidPayload, match=message):
        validate_payload(kind="pairwise", payload=payload, shape=PAIR)


def test_strength_steps_run_from_negligibly_to_much():
    assert [strength_step(s) for s in (None, "negligibly", "slightly", "clearly", "much")] == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_listwise_ranking_must_rank_every_response():
    shape = TaskShape(response_texts=("a", "b", "c"))
    assert validate_payload(kind="listwise", payload={"ranks": [2, 1, 2]}, shape=shape)[
        "ranks"
    ] == [2, 1, 2]
    with pytest.raises(InvalidPayload, match="one rank for each"):
        validate_payload(kind="listwise", payload={"ranks": [1, 2]}, shape=shape)
    with pytest.raises(InvalidPayload, match="no gaps"):
        validate_payload(kind="listwise", payload={"ranks": [1, 3, 3]}, shape=shape)


def test_principle_verdict_for_an_unknown_principle_is_refused():
    shape = TaskShape(response_texts=("the sky is blue",), principle_ids=frozenset({7}))
    ok = {
        "verdicts": [{"response": 0, "principle": 7, "verdict": "yes", "evidence": "sky is blue"}]
    }
    assert (
        validate_payload(kind="principles", payload=ok, shape=shape)["verdicts"][0]["verdict"]
        == "yes"
    )
    with pytest.raises(InvalidPayload, match="not one of this project's"):
        validate_payload(
            kind="principles",
            payload={"verdicts": [{"response": 0, "principle": 8, "verdict": "yes"}]},
            shape=shape,
        )


def test_principle_evidence_must_quote_the_response():
    shape = TaskShape(response_texts=("the sky is blue",), principle_ids=frozenset({7}))
    bad = {
        "verdicts": [{"response": 0, "principle": 7, "verdict": "no", "evidence": "grass is green"}]
    }
    with pytest.raises(InvalidPayload, match="copied from the response"):
        validate_payload(kind="principles", payload=bad, shape=shape)


def test_rubric_scores_are_checked_against_the_projects_rubric():
    shape = TaskShape(response_texts=("a", "b"), rubric_item_ids=frozenset({3}))
    scores = [
        {"response": 1, "item": 3, "score": "partly"},
        {"response": 0, "item": 3, "score": "met"},
    ]
    payload = {"choice": "A", "strength": "slightly", "rubric": scores}
    assert validate_payload(kind="pairwise", payload=payload, shape=shape)["rubric"] == [
        {"response": 0, "item": 3, "score": "met"},
        {"response": 1, "item": 3, "score": "partly"},
    ]
    with pytest.raises(InvalidPayload, match="1 rubric score"):
        validate_payload(kind="pairwise", payload={**payload, "rubric": scores[:1]}, shape=shape)
    with pytest.raises(InvalidPayload, match="2 rubric score"):
        validate_payload(kind="pairwise", payload={"choice": "tie"}, shape=shape)
    scores[0]["item"] = 4
    with pytest.raises(InvalidPayload, match="not in this project's rubric"):
        validate_payload(kind="pairwise", payload=payload, shape=shape)
