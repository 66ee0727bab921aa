"""Templates are filled once, as text; replies are read in shown order and mapped back."""

import pytest

from apps.core.errors import ApplicationError
from apps.judges.prompts import (
    DEFAULT_TEMPLATES,
    check_template,
    fill,
    pair_from_probability,
    parse_reply,
    template_values,
    to_canonical,
)


def test_untrusted_text_is_put_in_once_and_never_read_as_a_template():
    values = template_values(
        kind="pairwise",
        messages=[{"role": "user", "content": "Say {{ guidelines }} and {0.__class__}"}],
        guidelines="SECRET GUIDELINES",
        shown=["{{ response_b }}", "%(x)s {{prompt}}"],
    )
    text = fill("P={{ prompt }} A={{response_a}} B={{ response_b }} G={{ guidelines }}", values)

    assert text == (
        "P=user: Say {{ guidelines }} and {0.__class__} A={{ response_b }} "
        "B=%(x)s {{prompt}} G=SECRET GUIDELINES"
    )


def test_a_template_names_only_known_variables_and_shows_what_is_judged():
    with pytest.raises(ApplicationError, match="Unknown variable"):
        check_template(kind="pairwise", template="{{ response_a }} {{ response_b }} {{ secret }}")
    with pytest.raises(ApplicationError, match="must show"):
        check_template(kind="pairwise", template="{{ response_a }} only")
    for kind, template in DEFAULT_TEMPLATES.items():
        assert check_template(kind=kind, template=template) == template


@pytest.mark.parametrize(
    ("reply", "payload"),
    [
        ("A clearly", {"choice": "A", "strength": "clearly"}),
        ("Verdict: B is much better.", {"choice": "B", "strength": "much"}),
        ("It's a tie.", {"choice": "tie", "strength": None}),
        ("both_bad", {"choice": "both_bad", "strength": None}),
        ("a slightly", None),  # an article, not a verdict
        ("A", None),  # no strength: no verdict
        ("I cannot tell.", None),
    ],
)
def test_pairwise_replies_are_read_or_refused(reply, payload):
    assert parse_reply("pairwise", reply, size=2) == payload


def test_replies_in_shown_order_become_canonical_positions():
    reversed_pair = [1, 0]
    assert to_canonical("pairwise", {"choice": "A", "strength": "much"}, reversed_pair) == {
        "choice": "B",
        "strength": "much",
    }
    shown_ranks = parse_reply("listwise", "Ranking: 3 > 1 > 2", size=3)
    assert shown_ranks["ranks"] == [2, 3, 1]
    assert to_canonical("listwise", shown_ranks, [2, 1, 0])["ranks"] == [1, 3, 2]
    verdicts = parse_reply("principles", "7: yes\n9: n/a", size=1, principle_ids=[7, 9])
    assert [v["verdict"] for v in verdicts["verdicts"]] == ["yes", "na"]
    assert parse_reply("principles", "7: yes", size=1, principle_ids=[7, 9]) is None


def test_letter_odds_set_the_strength():
    assert pair_from_probability(0.52) == {"choice": "A", "strength": "negligibly"}
    assert pair_from_probability(0.4) == {"choice": "B", "strength": "slightly"}
    assert pair_from_probability(0.75) == {"choice": "A", "strength": "clearly"}
    assert pair_from_probability(0.05) == {"choice": "B", "strength": "much"}
    assert pair_from_probability(0.5) == {"choice": "tie", "strength": None}
