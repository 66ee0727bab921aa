from apps.feedback.facts import derived_facts

POSITIONS = {11: 0, 22: 1}


def test_decisive_pairwise_verdict_names_the_winner_loser_and_first_shown():
    facts = derived_facts(
        payload={"choice": "B", "strength": "much"}, display_order=[22, 11], position_of=POSITIONS
    )
    assert facts == {
        "first_shown_position": 1,
        "chosen_position": 1,
        "chosen_response_id": 22,
        "rejected_response_id": 11,
        "signed_strength": -4.0,
    }


def test_tie_has_no_winner():
    facts = derived_facts(payload={"choice": "tie"}, display_order=[11, 22], position_of=POSITIONS)
    assert facts["chosen_position"] is None and facts["chosen_response_id"] is None
    assert facts["first_shown_position"] == 0


def test_ranking_names_its_single_best_response_only():
    positions = {5: 0, 6: 1, 7: 2}
    assert (
        derived_facts(payload={"ranks": [2, 1, 3]}, display_order=[7, 5, 6], position_of=positions)[
            "chosen_position"
        ]
        == 1
    )
    assert (
        derived_facts(payload={"ranks": [1, 1, 2]}, display_order=[7, 5, 6], position_of=positions)[
            "chosen_position"
        ]
        is None
    )
