import pytest

from apps.feedback.facts import signed_strength
from apps.quality.metrics import (
    binomial_p_two_sided,
    directed_three_cycles,
    gold_matches,
    krippendorff_alpha,
)


def test_nominal_alpha_matches_the_hand_worked_coincidence_matrix():
    # Units (coder 1, coder 2): (1,1) (1,1) (0,0) (0,1).
    # Coincidences: o00=2, o01=o10=1, o11=4; n0=3, n1=5, n=8.
    # D_o = 2/8 = 0.25; D_e = 2*3*5 / (8*7) = 30/56; alpha = 1 - 0.25 / (30/56) = 8/15.
    ratings = {1: {"x": 1, "y": 1}, 2: {"x": 1, "y": 1}, 3: {"x": 0, "y": 0}, 4: {"x": 0, "y": 1}}
    alpha, units = krippendorff_alpha(ratings, level="nominal")
    assert units == 4
    assert alpha == pytest.approx(8 / 15)


def test_interval_alpha_matches_the_hand_worked_value():
    # Units (1, 2) and (3, 3). D_o = (1 + 1) / 4 = 0.5.
    # All ordered pairs of the values 1, 2, 3, 3: squared gaps sum to 22, so D_e = 22 / (4*3).
    # alpha = 1 - 0.5 / (22/12) = 8/11.
    alpha, _ = krippendorff_alpha(
        {"u1": {"a": 1, "b": 2}, "u2": {"a": 3, "b": 3}}, level="interval"
    )
    assert alpha == pytest.approx(8 / 11)


def test_units_judged_once_do_not_count_and_unanimity_is_perfect():
    assert krippendorff_alpha({"u1": {"a": 1}}, level="nominal") == (None, 0)
    assert krippendorff_alpha(
        {"u1": {"a": 1, "b": 1}, "u2": {"a": 1, "b": 1}}, level="nominal"
    ) == (1.0, 2)


def test_signed_strength_puts_a_pairwise_verdict_on_one_scale():
    assert signed_strength({"choice": "A", "strength": "much"}) == 4
    assert signed_strength({"choice": "B", "strength": "negligibly"}) == -1
    assert signed_strength({"choice": "tie"}) == 0
    assert signed_strength({"choice": "both_bad"}) is None


def test_three_cycles_are_counted_once_each():
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "d"), ("d", "c")]
    # a≻b≻c≻a, and a≻d≻c≻a: two intransitive triads.
    assert directed_three_cycles(edges) == 2
    assert directed_three_cycles([("a", "b"), ("b", "c"), ("a", "c")]) == 0


def test_gold_match_compares_the_verdict_not_the_strength():
    assert gold_matches(
        "pairwise", {"choice": "A", "strength": "much"}, {"choice": "A", "strength": "slightly"}
    )
    assert not gold_matches("pairwise", {"choice": "tie"}, {"choice": "A"})
    assert gold_matches("thumbs", {"labels": [True]}, {"labels": [True]})
    assert gold_matches(
        "listwise",
        {"ranks": [1, 2, 2], "not_rankable": False},
        {"ranks": [1, 2, 2], "not_rankable": False},
    )


def test_binomial_p_of_a_fair_split_is_one_and_of_ten_of_ten_is_small():
    assert binomial_p_two_sided(5, 10) == pytest.approx(1.0)
    assert binomial_p_two_sided(10, 10) == pytest.approx(2 / 1024)


def test_interval_alpha_from_unit_sums_equals_the_reference_implementation():
    import random

    from apps.quality.metrics import interval_alpha_from_unit_sums

    rng = random.Random(3)
    ratings = {}
    for unit in range(60):
        base = rng.choice([-4, -2, 0, 2, 4])
        ratings[unit] = {
            a: base + rng.choice([-1, 0, 0, 1]) for a in rng.sample(range(5), rng.randint(1, 4))
        }
    sums = [(len(v), sum(v.values()), sum(x * x for x in v.values())) for v in ratings.values()]
    fast, units = interval_alpha_from_unit_sums(sums)
    reference, reference_units = krippendorff_alpha(ratings, level="interval")
    assert units == reference_units
    assert fast == pytest.approx(reference, abs=1e-9)
