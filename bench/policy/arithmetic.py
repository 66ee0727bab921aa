"""The benchmark's task family: small additions with a hidden, checkable truth.

A prompt asks `what is 13 + 4 ?`; a response reads `the answer is 17 .`. The truth is plain arithmetic
(`is_correct`), hidden from everything that trains: the app sees only the annotators' noisy labels.

The pretraining corpus is right only half the time, by construction: the other half carries one
systematic off-by-one error whose direction depends on the operands (+1 when a >= b, else -1). A model
fitted to it gives the right answer and the wrong one about equal probability, so the base model is
mediocre whichever way it decodes, and a reward model cannot learn "the smaller number wins": within a
pair the right answer is the smaller one for some prompts and the larger for others.

Pure Python: no torch, no Django (the test imports it cheaply).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

MAX_OPERAND = 9
NUMBERS = [str(n) for n in range(2 * MAX_OPERAND + 2)]  # every sum and every wrong answer
WORDS = ["what", "is", "+", "?", "the", "answer", "."]
_PROMPT = re.compile(r"^what is (\d+) \+ (\d+) \?$")
_ANSWER = re.compile(r"^the answer is (\d+) \.$")


@dataclass(frozen=True)
class Problem:
    a: int
    b: int

    @property
    def prompt(self) -> str:
        return f"what is {self.a} + {self.b} ?"

    @property
    def truth(self) -> int:
        return self.a + self.b

    @property
    def systematic_error(self) -> int:
        """The one wrong answer the pretraining corpus teaches for this problem."""
        return self.truth + 1 if self.a >= self.b else self.truth - 1


def all_problems() -> list[Problem]:
    return [Problem(a, b) for a in range(MAX_OPERAND + 1) for b in range(MAX_OPERAND + 1)]


def split_problems(*, held_out: int, seed: int) -> tuple[list[Problem], list[Problem]]:
    """(problems the app may see, held-out problems only the final measurement sees); disjoint."""
    problems = all_problems()
    random.Random(seed).shuffle(problems)
    return problems[held_out:], problems[:held_out]


def answer_text(value: int) -> str:
    return f"the answer is {value} ."


def pretraining_texts(*, copies: int, right_share: float, seed: int) -> list[tuple[str, str]]:
    """(prompt, response) pairs over every problem, `copies` each; a response is right with
    probability `right_share`, else it carries the problem's systematic error."""
    rng = random.Random(seed)
    rows = []
    for problem in all_problems():
        for _ in range(copies):
            value = problem.truth if rng.random() < right_share else problem.systematic_error
            rows.append((problem.prompt, answer_text(value)))
    rng.shuffle(rows)
    return rows


def parse_prompt(prompt: str) -> Problem | None:
    match = _PROMPT.match(prompt.strip())
    return Problem(int(match.group(1)), int(match.group(2))) if match else None


def parse_answer(response: str) -> int | None:
    """The number a well-formed response states; None for anything else (a malformed response
    is never correct)."""
    match = _ANSWER.match(" ".join(response.split()))
    return int(match.group(1)) if match else None


def is_correct(prompt: str, response: str) -> bool:
    """The hidden truth: the response is well formed and states the prompt's sum."""
    problem = parse_prompt(prompt)
    return problem is not None and parse_answer(response) == problem.truth


def vocabulary() -> list[str]:
    return WORDS + NUMBERS


def simulated_verdict(prompt: str, texts: list[str], *, rng: random.Random, noise: float) -> str:
    """A simulated annotator's pairwise choice ("A", "B" or "both_bad") for two shown responses.

    They check the arithmetic: the right response wins, and two wrong ones are both bad (two right
    ones cannot differ: a right response has one text). With probability `noise` they err: the
    other response wins, or, for two wrong ones, either is picked at random.
    """
    right = [is_correct(prompt, text) for text in texts]
    if right[0] == right[1]:
        return rng.choice("AB") if rng.random() < noise else "both_bad"
    winner = "A" if right[0] else "B"
    if rng.random() < noise:
        return "B" if winner == "A" else "A"
    return winner
