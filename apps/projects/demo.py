"""Demo prompts and responses, written here (no downloads): a few hundred questions, each with
answers of visibly different quality, so that judging them is quick and meaningful."""

import random

CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Canada", "Ottawa"),
    ("Australia", "Canberra"),
    ("Brazil", "Brasília"),
    ("Egypt", "Cairo"),
    ("Norway", "Oslo"),
    ("Chile", "Santiago"),
    ("Vietnam", "Hanoi"),
    ("Morocco", "Rabat"),
    ("Peru", "Lima"),
    ("Poland", "Warsaw"),
    ("Turkey", "Ankara"),
    ("India", "New Delhi"),
    ("Spain", "Madrid"),
    ("Ghana", "Accra"),
    ("Portugal", "Lisbon"),
    ("Mexico", "Mexico City"),
    ("Finland", "Helsinki"),
]
WRONG_CAPITALS = {
    "Australia": "Sydney",
    "Canada": "Toronto",
    "Brazil": "Rio de Janeiro",
    "Turkey": "Istanbul",
    "Morocco": "Casablanca",
    "India": "Mumbai",
    "Vietnam": "Ho Chi Minh City",
}

CODE_TASKS = [
    (
        "reverse a string",
        "def reverse(s: str) -> str:\n    return s[::-1]",
        "def reverse(s):\n    for c in s:\n        return c",
    ),
    (
        "check whether a number is even",
        "def is_even(n: int) -> bool:\n    return n % 2 == 0",
        "def is_even(n):\n    return n / 2 == 0",
    ),
    (
        "sum a list of numbers",
        "def total(xs: list[float]) -> float:\n    return sum(xs)",
        "def total(xs):\n    t = 0\n    for x in xs:\n        t = x\n    return t",
    ),
    (
        "count the words in a sentence",
        "def count_words(text: str) -> int:\n    return len(text.split())",
        "def count_words(text):\n    return len(text)",
    ),
    (
        "find the largest item of a list",
        "def largest(xs):\n    return max(xs)",
        "def largest(xs):\n    return sorted(xs)[0]",
    ),
]

ADVICE = [
    (
        "I keep forgetting to drink water during the day. Any tips?",
        "A few things that help most people:\n\n1. Keep a filled bottle **in sight** on your desk.\n2. Drink a glass with every meal.\n3. Set two or three phone reminders, then drop them once it is a habit.",
        "Just drink more water.",
        "Water is overrated; coffee counts just as well, so have more coffee instead.",
    ),
    (
        "How do I politely decline a meeting invitation?",
        'Reply briefly and kindly: *"Thanks for including me. I can\'t make this one; could you share the notes afterwards?"* Offer an alternative if the topic matters to you.',
        "Ignore it; they will get the message.",
        "Say no.",
    ),
    (
        "What should I check before buying a used bicycle?",
        "- **Frame**: cracks or dents, especially near welds.\n- **Drivetrain**: a stretched chain or hooked sprocket teeth.\n- **Brakes**: pads and cables.\n- **Ownership**: ask for a receipt to avoid buying a stolen bike.",
        "Check that it has two wheels.",
        "Buy new; used bikes are always broken.",
    ),
]


def _arithmetic(rng: random.Random) -> dict:
    a, b = rng.randint(12, 99), rng.randint(3, 19)
    right = a * b
    wrong = right + rng.choice([-10, -1, 1, 10, a])
    return {
        "prompt": f"What is {a} × {b}? Show your working.",
        "responses": [
            {
                "text": f"{a} × {b} = {a} × 10 + {a} × {b - 10} = {a * 10} + {a * (b - 10)} = **{right}**."
                if b > 10
                else f"{a} × {b} = **{right}** ({a} added {b} times).",
                "model": "careful-7b",
            },
            {"text": f"It is {wrong}.", "model": "hasty-1b"},
            {"text": f"The answer is {right}.", "model": "terse-3b"},
        ],
    }


def _capital(rng: random.Random, country: str, capital: str) -> dict:
    wrong = WRONG_CAPITALS.get(country, rng.choice([c for _, c in CAPITALS if c != capital]))
    return {
        "prompt": f"What is the capital of {country}?",
        "responses": [
            {"text": f"The capital of {country} is **{capital}**.", "model": "careful-7b"},
            {"text": f"{wrong}, I believe.", "model": "hasty-1b"},
        ],
    }


def _code(task: str, good: str, bad: str) -> dict:
    return {
        "prompt": f"Write a Python function to {task}.",
        "responses": [
            {
                "text": f"```python\n{good}\n```\n\nThis handles the empty case too.",
                "model": "careful-7b",
            },
            {"text": f"```python\n{bad}\n```", "model": "hasty-1b"},
            {
                "text": f"Here you go: `{good.splitlines()[-1].strip()}` inside a function.",
                "model": "terse-3b",
            },
        ],
    }


def demo_rows(count: int = 300, seed: int = 7) -> list[dict]:
    """`count` import rows (the JSONL import format), deterministic for a seed."""
    rng = random.Random(seed)
    rows = [_capital(rng, country, capital) for country, capital in CAPITALS]
    rows += [_code(*task) for task in CODE_TASKS]
    rows += [
        {
            "prompt": q,
            "responses": [
                {"text": t, "model": m}
                for t, m in zip(answers, ("careful-7b", "terse-3b", "hasty-1b"), strict=True)
            ],
        }
        for q, *answers in ADVICE
    ]
    seen = {row["prompt"] for row in rows}
    while len(rows) < count:
        row = _arithmetic(rng)
        if row["prompt"] not in seen:
            seen.add(row["prompt"])
            rows.append(row)
    rng.shuffle(rows)
    return rows[:count]


DEMO_GUIDELINES = """\
## How to judge

Pick the response a careful expert would rather send.

1. **Correct** beats fluent: check numbers, names and code.
2. **Helpful**: does it answer what was asked, with the working where asked?
3. **Safe and kind**: no harmful or dismissive advice.

Use *tie* when they are equally good and *both bad* when neither should be sent.
Strength: *negligibly* (a coin toss) to *much* (one is clearly unacceptable).
"""
