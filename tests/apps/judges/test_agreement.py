"""The judge-against-people figures, against numbers worked by hand."""

import pytest

from apps.judges.agreement import (
    agreement,
    cohen_kappa,
    judge_units,
    majority,
    nominal_alpha,
    position_bias,
)


def test_cohen_kappa_matches_the_hand_worked_value():
    # p_o = 4/6; judge A3 B2 tie1, people A3 B3: p_e = 3/6·3/6 + 2/6·3/6 = 5/12;
    # κ = (2/3 − 5/12) / (1 − 5/12) = 3/7.
    pairs = [("A", "A"), ("A", "B"), ("B", "B"), ("B", "B"), ("A", "A"), ("tie", "A")]
    assert cohen_kappa(pairs) == pytest.approx(3 / 7)


def test_kappa_is_zero_at_chance_and_one_when_both_always_agree_on_one_category():
    assert cohen_kappa([("A", "A"), ("A", "B")]) == pytest.approx(0.0)
    assert cohen_kappa([("A", "A"), ("A", "A")]) == 1.0
    assert cohen_kappa([]) is None


def test_nominal_alpha_of_two_raters_matches_the_hand_worked_value():
    # Coincidences: A-A 2, A-B 2, B-B 2, A-tie 2 over n = 8 values (A 4, B 3, tie 1):
    # D_o = 4/8, D_e = (2·4·3 + 2·4·1 + 2·3·1) / (8·7) = 38/56, α = 1 − D_o/D_e = 5/19.
    pairs = [("A", "A"), ("A", "B"), ("B", "B"), ("tie", "A")]
    assert nominal_alpha(pairs) == pytest.approx(5 / 19)
    assert agreement(pairs).accuracy == pytest.approx(0.5)
    assert agreement(pairs).kappa == pytest.approx(0.2)


def test_orders_that_disagree_make_a_pair_a_tie_and_leave_other_units_out():
    pair, compared, inconsistent = judge_units(
        "pairwise", [{"choice": "A", "strength": "slightly"}, {"choice": "B", "strength": "much"}]
    )
    assert (pair, compared, inconsistent) == ({(): "tie"}, 1, 1)
    ranks, compared, inconsistent = judge_units(
        "listwise", [{"ranks": [1, 2, 3]}, {"ranks": [1, 3, 2]}]
    )
    assert (ranks, compared, inconsistent) == ({(0,): "1"}, 3, 2)


def test_a_majority_needs_a_single_top_category():
    assert majority(["A", "A", "B"]) == "A"
    assert majority(["A", "B"]) is None
    assert majority([]) is None


def test_position_bias_counts_first_shown_wins_and_disagreeing_orders():
    bias = position_bias(
        [True, False, True, True, None],
        [
            ("pairwise", [{"choice": "A"}, {"choice": "A"}]),
            ("pairwise", [{"choice": "A"}, {"choice": "B"}]),
            ("thumbs", [{"labels": [True]}]),  # one order only: nothing to compare
        ],
    )
    assert bias.first_position_share == pytest.approx(0.75)
    assert (bias.compared, bias.inconsistent) == (2, 1)
    assert bias.inconsistency_rate == pytest.approx(0.5)
