import random

from bench.policy import formats


def test_checker_accepts_only_the_prompts_number_in_the_requested_wrapping():
    assert formats.is_correct("write 17 in brackets", "[ 17 ]")
    assert formats.is_correct("write 17 in brackets", "  [  17 ] ")
    assert formats.is_correct("write 17 in parens", "( 17 )")
    assert not formats.is_correct("write 17 in brackets", "( 17 )")
    assert not formats.is_correct("write 17 in parens", "[ 17 ]")
    assert not formats.is_correct("write 17 in brackets", "[ 18 ]")
    assert not formats.is_correct("write 17 in brackets", "[ 17 ] [ 17 ]")
    assert not formats.is_correct("write 17 in brackets", "17")
    assert not formats.is_correct("write 17 in braces", "[ 17 ]")


def test_every_prompt_and_response_is_in_the_vocabulary():
    vocabulary = set(formats.vocabulary())
    for problem in formats.all_problems():
        assert set(problem.prompt.split()) <= vocabulary
        for fmt in formats.FORMATS:
            assert set(formats.wrapped(problem.value, fmt).split()) <= vocabulary


def test_corpus_follows_the_requested_format_about_half_the_time_and_always_copies_the_number():
    rows = formats.pretraining_texts(copies=10, right_share=0.5, seed=0)
    assert len(rows) == 10 * len(formats.all_problems())
    right = sum(formats.is_correct(prompt, response) for prompt, response in rows)
    assert 0.45 < right / len(rows) < 0.55
    for prompt, response in rows:
        problem = formats.parse_prompt(prompt)
        assert response in (
            formats.wrapped(problem.value, problem.fmt),
            formats.wrapped(problem.value, problem.other_fmt),
        )


def test_neither_wrapping_is_right_on_its_own():
    problems = formats.all_problems()
    for fmt in formats.FORMATS:
        share = sum(formats.is_correct(p.prompt, formats.wrapped(p.value, fmt)) for p in problems)
        assert share == len(problems) // 2


def test_held_out_problems_are_disjoint_from_the_ones_the_app_sees_and_reproducible():
    seen, held = formats.split_problems(held_out=20, seed=0)
    assert len(held) == 20 and len(seen) == len(formats.all_problems()) - 20
    assert not set(seen) & set(held)
    assert formats.split_problems(held_out=20, seed=0)[1] == held


def test_simulated_annotator_picks_the_requested_format_and_errs_at_the_noise_rate():
    rng = random.Random(0)
    prompt, right, wrong = "write 4 in parens", "( 4 )", "[ 4 ]"
    verdicts = [
        formats.simulated_verdict(prompt, [wrong, right], rng=rng, noise=0.2) for _ in range(2000)
    ]
    assert 0.75 < verdicts.count("B") / len(verdicts) < 0.85
    assert set(verdicts) == {"A", "B"}
    assert formats.simulated_verdict(prompt, [wrong, "( 5 )"], rng=rng, noise=0.0) == "both_bad"


def test_tokenizer_round_trips_a_format_response():
    from bench.policy.base_model import build_tokenizer

    tokenizer = build_tokenizer(formats)
    ids = tokenizer("write 17 in brackets [ 17 ]")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "write 17 in brackets [ 17 ]"


def test_annotator_verdict_names_the_canonical_letter_of_the_response_picked_on_screen():
    from bench.policy.bench_policy import canonical_choice

    shown = [{"text": "[ 4 ]", "letter": "B"}, {"text": "( 4 )", "letter": "A"}]
    verdict = formats.simulated_verdict(
        "write 4 in parens", [r["text"] for r in shown], rng=random.Random(0), noise=0.0
    )
    assert verdict == "B"  # the second on screen
    assert canonical_choice(shown, verdict) == "A"  # which is canonical response A
    assert canonical_choice(shown, "A") == "B"
    assert canonical_choice(shown, "both_bad") == "both_bad"
