"""The benchmark's default task family: output-format following, with a hidden, checkable truth.

A prompt asks `write 17 in brackets` or `write 17 in parens`; a right response is the number in the
requested wrapping, `[ 17 ]` or `( 17 )`. The truth (`is_correct`: the requested wrapping around
the prompt's number, nothing else) is hidden from everything that trains: the app sees only the
annotators' noisy labels.

The pretraining corpus follows the requested format only half the time, by construction: otherwise
it uses the other wrapping. A model fitted to it picks either wrapping with about equal probability,
so the base model is mediocre whichever way it decodes. Unlike arithmetic, the property that makes a
response right is on the surface (does the wrapping match the word in the prompt?), so a tiny reward
model can learn it from pairwise labels and carry it to held-out numbers. Neither wrapping is right
on its own: "brackets wins" is right for half the prompts only.

Same interface as arithmetic.py (Problem, all_problems, split_problems, pretraining_texts,
is_correct, vocabulary, simulated_verdict). Pure Python: no torch, no Django.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

MAX_VALUE = 49
FORMATS = {"brackets": ("[", "]"), "parens": ("(", ")")}
NUMBERS = [str(n) for n in range(MAX_VALUE + 1)]
WORDS = ["write", "in", *FORMATS, *(mark for pair in FORMATS.values() for mark in pair)]
_PROMPT = re.compile(r"^write (\d+) in (brackets|parens)$")


@dataclass(frozen=True)
class Problem:
    value: int
    fmt: str

    @property
    def prompt(self) -> str:
        return f"write {self.value} in {self.fmt}"

    @property
    def other_fmt(self) -> str:
        return next(name for name in FORMATS if name != self.fmt)


def all_problems() -> list[Problem]:
    return [Problem(value, fmt) for value in range(MAX_VALUE + 1) for fmt in FORMATS]


def split_problems(*, held_out: int, seed: int) -> tuple[list[Problem], list[Problem]]:
    """(problems the app may see, held-out problems only the final measurement sees); disjoint."""
    problems = all_problems()
    random.Random(seed).shuffle(problems)
    return problems[held_out:], problems[:held_out]


def wrapped(value: int, fmt: str) -> str:
    left, right = FORMATS[fmt]
    return f"{left} {value} {right}"


def pretraining_texts(*, copies: int, right_share: float, seed: int) -> list[tuple[str, str]]:
    """(prompt, response) pairs over every problem, `copies` each; a response uses the requested
    wrapping with probability `right_share`, else the other one (the number is always copied)."""
    rng = random.Random(seed)
    rows = []
    for problem in all_problems():
        for _ in range(copies):
            fmt = problem.fmt if rng.random() < right_share else problem.other_fmt
            rows.append((problem.prompt, wrapped(problem.value, fmt)))
    rng.shuffle(rows)
    return rows


def parse_prompt(prompt: str) -> Problem | None:
    match = _PROMPT.match(" ".join(prompt.split()))
    return Problem(int(match.group(1)), match.group(2)) if match else None


def is_correct(prompt: str, response: str) -> bool:
    """The hidden truth: the response is exactly the prompt's number in the requested wrapping."""
    problem = parse_prompt(prompt)
    return problem is not None and " ".join(response.split()) == wrapped(problem.value, problem.fmt)


def vocabulary() -> list[str]:
    return WORDS + NUMBERS


def simulated_verdict(prompt: str, texts: list[str], *, rng: random.Random, noise: float) -> str:
    """A simulated annotator's pairwise choice ("A", "B" or "both_bad") for two shown responses.

    They check the format: the right response wins, two wrong ones are both bad (two right ones
    cannot differ: a right response has one text). With probability `noise` they err: the other
    response wins, or, for two wrong ones, either is picked at random.
    """
    right = [is_correct(prompt, text) for text in texts]
    if right[0] == right[1]:
        return rng.choice("AB") if rng.random() < noise else "both_bad"
    winner = "A" if right[0] else "B"
    if rng.random() < noise:
        return "B" if winner == "A" else "A"
    return winner
