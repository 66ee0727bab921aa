"""The hard set's simulated annotator votes look like the aggregated pairs export, majority first."""

from __future__ import annotations

from bench.training.bench_noise import option_line
from bench.training.hard import make_hard_pairs, with_annotator_votes
from trainer.labels import row_preference


def test_votes_put_the_majority_on_the_chosen_side_and_flip_rows_the_majority_got_wrong():
    clean = make_hard_pairs(400, seed=7, flip_rate=0.0)

    voted = with_annotator_votes(clean, annotators=3, error_rate=0.3, seed=1)

    assert all(row["votes_chosen"] + row["votes_rejected"] == 3 for row in voted)
    assert all(row["votes_chosen"] >= 2 for row in voted)
    flipped = [v for c, v in zip(clean, voted, strict=True) if v["chosen"] != c["chosen"]]
    # A majority of 3 is wrong with probability 3·0.3²·0.7 + 0.3³ = 0.216.
    assert 0.15 < len(flipped) / len(voted) < 0.29
    # The soft label of a 2-1 row is 2/3, of a 3-0 row 1.
    assert {round(row_preference(row), 4) for row in voted} == {0.6667, 1.0}


def test_the_same_seed_gives_the_same_votes():
    clean = make_hard_pairs(50, seed=3, flip_rate=0.0)

    first = with_annotator_votes(clean, annotators=3, error_rate=0.3, seed=5)
    again = with_annotator_votes(clean, annotators=3, error_rate=0.3, seed=5)

    assert first == again


def test_an_option_line_reports_means_spreads_and_the_paired_difference():
    line = option_line("label_smoothing", [0.7, 0.8, 0.9], [0.6, 0.8, 0.7])

    assert line == (
        "noise_option=label_smoothing accuracy_on=0.8000 sd_on=0.1000 accuracy_off=0.7000 "
        "sd_off=0.1000 delta=+0.1000 sd_delta=0.1000 seeds=3"
    )
