"""The policy benchmark's task family: the hidden checker, the corpus and the simulated annotator."""

import random

from bench.policy import arithmetic
from bench.policy.chart import render_svg


def test_checker_accepts_only_the_well_formed_right_sum():
    prompt = "what is 13 + 4 ?"
    assert arithmetic.is_correct(prompt, "the answer is 17 .")
    assert arithmetic.is_correct(prompt, "  the answer   is 17 . ")
    assert not arithmetic.is_correct(prompt, "the answer is 18 .")
    assert not arithmetic.is_correct(prompt, "the answer is 17")
    assert not arithmetic.is_correct(prompt, "17")
    assert not arithmetic.is_correct("what is 13 - 4 ?", "the answer is 9 .")


def test_systematic_error_goes_up_when_a_is_larger_and_down_otherwise():
    assert arithmetic.Problem(5, 3).systematic_error == 9
    assert arithmetic.Problem(4, 4).systematic_error == 9
    assert arithmetic.Problem(3, 5).systematic_error == 7


def test_every_answer_the_corpus_can_hold_is_in_the_vocabulary():
    vocabulary = set(arithmetic.vocabulary())
    for problem in arithmetic.all_problems():
        for value in (problem.truth, problem.systematic_error):
            assert set(problem.prompt.split()) <= vocabulary
            assert set(arithmetic.answer_text(value).split()) <= vocabulary


def test_pretraining_corpus_is_right_about_the_share_asked_and_otherwise_systematically_wrong():
    rows = arithmetic.pretraining_texts(copies=10, right_share=0.5, seed=0)
    assert len(rows) == 10 * len(arithmetic.all_problems())
    right = sum(arithmetic.is_correct(prompt, response) for prompt, response in rows)
    assert 0.45 < right / len(rows) < 0.55
    for prompt, response in rows:
        problem = arithmetic.parse_prompt(prompt)
        assert arithmetic.parse_answer(response) in (problem.truth, problem.systematic_error)


def test_held_out_problems_are_disjoint_from_the_ones_the_app_sees_and_reproducible():
    seen, held = arithmetic.split_problems(held_out=20, seed=0)
    assert len(held) == 20 and len(seen) == len(arithmetic.all_problems()) - 20
    assert not set(seen) & set(held)
    assert arithmetic.split_problems(held_out=20, seed=0)[1] == held


def test_simulated_annotator_picks_the_right_answer_and_errs_at_the_noise_rate():
    rng = random.Random(0)
    prompt, right, wrong = "what is 2 + 2 ?", "the answer is 4 .", "the answer is 5 ."
    verdicts = [
        arithmetic.simulated_verdict(prompt, [wrong, right], rng=rng, noise=0.2)
        for _ in range(2000)
    ]
    assert 0.75 < verdicts.count("B") / len(verdicts) < 0.85
    assert set(verdicts) == {"A", "B"}
    assert (
        arithmetic.simulated_verdict(prompt, [wrong, "the answer is 3 ."], rng=rng, noise=0.0)
        == "both_bad"
    )


def test_chart_draws_one_line_per_objective_and_the_base():
    svg = render_svg(
        {
            "base_success": 0.4,
            "points": [
                {"labels": 250, "objective": "dpo", "success": 0.5},
                {"labels": 500, "objective": "dpo", "success": 0.7},
                {"labels": 250, "objective": "grpo", "success": 0.6},
                {"labels": 500, "objective": "grpo", "success": 0.8},
            ],
        }
    )
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert ">dpo<" in svg and ">grpo<" in svg and ">base<" in svg
