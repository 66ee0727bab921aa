"""A hard, noisy preference set for the reward-model benchmark (no download, deterministic per seed).

Where the easy set (synthetic.py) can be learned from topic words, every pair here differs only in what has
to be read: both responses of a pair share their topic, their style and their length distribution.

- arithmetic: both answers explain a sum or a product in prose; only the chosen one's result is right.
- facts: both answers state a capital, a chemical symbol or an author; only the chosen one is right.
- format: the prompt asks for an output format (bullets, JSON, upper case, one word, numbered steps); both
  answers say the same thing, only the chosen one follows the format.
- relevance: the prompt asks about one topic after a long context about another; the chosen answer
  addresses the request at the end of the prompt, the rejected one the context.

Lengths are long-tailed and drawn independently of the label (filler before and after the point, so a few
pairs exceed max_length and the point can sit near the end of a long response). Prompts carry a
long-tailed context before the request, so truncating the prompt from the right loses the request.
A share of labels (`flip_rate`, 10% by default) is swapped, as careless annotators do; the held-out set is
generated clean so that accuracy measures what was learned, not the noise.
"""

from __future__ import annotations

import json
import random

CATEGORIES = ("arithmetic", "facts", "format", "relevance")

CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Canada": "Ottawa",
    "Australia": "Canberra",
    "Egypt": "Cairo",
    "Norway": "Oslo",
    "Brazil": "Brasilia",
    "Turkey": "Ankara",
    "Vietnam": "Hanoi",
    "Chile": "Santiago",
    "Poland": "Warsaw",
    "Portugal": "Lisbon",
    "Morocco": "Rabat",
    "Argentina": "Buenos Aires",
}
SYMBOLS = {
    "gold": "Au",
    "silver": "Ag",
    "iron": "Fe",
    "sodium": "Na",
    "potassium": "K",
    "lead": "Pb",
    "copper": "Cu",
    "tin": "Sn",
    "mercury": "Hg",
    "tungsten": "W",
}
AUTHORS = {
    "Pride and Prejudice": "Jane Austen",
    "Moby-Dick": "Herman Melville",
    "War and Peace": "Leo Tolstoy",
    "Don Quixote": "Miguel de Cervantes",
    "Hamlet": "William Shakespeare",
    "Frankenstein": "Mary Shelley",
    "The Odyssey": "Homer",
    "Great Expectations": "Charles Dickens",
    "The Trial": "Franz Kafka",
    "Middlemarch": "George Eliot",
}
TOPICS = [
    "baking bread",
    "repairing a bicycle",
    "growing tomatoes",
    "saving for retirement",
    "training a puppy",
    "brewing coffee",
    "painting a room",
    "learning to swim",
    "fixing a leaking tap",
    "planning a hiking trip",
]
TOPIC_TERMS = {
    "baking bread": ["flour", "yeast", "dough", "oven"],
    "repairing a bicycle": ["chain", "tyre", "brake pads", "spokes"],
    "growing tomatoes": ["seedlings", "compost", "watering", "stakes"],
    "saving for retirement": ["pension", "index funds", "budget", "employer match"],
    "training a puppy": ["treats", "leash", "crate", "praise"],
    "brewing coffee": ["grind size", "beans", "pour over", "water temperature"],
    "painting a room": ["primer", "roller", "masking tape", "second coat"],
    "learning to swim": ["breathing", "floating", "kicking", "goggles"],
    "fixing a leaking tap": ["washer", "valve", "wrench", "cartridge"],
    "planning a hiking trip": ["trail map", "boots", "weather forecast", "first aid kit"],
}
FILLER = [
    "Let me walk through it carefully.",
    "This is a common question and a fair one to ask.",
    "I checked this twice before answering.",
    "Here is the short version first.",
    "I hope this helps with what you are working on.",
    "Feel free to ask a follow-up if anything is unclear.",
    "It is easy to mix these up, so take a moment with it.",
    "Many people get stuck on exactly this point.",
    "There is a little background worth knowing.",
    "I will keep the explanation plain.",
]
# Responses and prompts that ramble on: they make the pairs longer than max_length (256 tokens) that test
# truncation, independent of the label.
RAMBLING_SHARE = 0.06
CONTEXT = [
    "I have been meaning to ask this for a while.",
    "Earlier today I was reading about something else entirely.",
    "My friend and I argued about this over lunch.",
    "This came up while I was helping my cousin with homework.",
    "I usually look these things up but my connection is slow.",
    "Sorry if this is a basic question.",
    "We had a long meeting and it came up at the end.",
]


def _long_tail(rng: random.Random, scale: float, cap: int) -> int:
    # Most values small, a few large (like real chat logs); the cap keeps the longest pairs finite.
    return min(cap, int(rng.expovariate(1 / scale)))


def _wrap(point: str, rng: random.Random) -> str:
    """The point, with a long-tailed number of filler sentences before and after it (label-independent)."""
    before = [rng.choice(FILLER) for _ in range(_long_tail(rng, 1.5, 12))]
    after = [rng.choice(FILLER) for _ in range(_long_tail(rng, 2.5, 30))]
    if rng.random() < RAMBLING_SHARE:
        after += [rng.choice(FILLER) for _ in range(rng.randint(20, 40))]
    return " " + " ".join([*before, point, *after])


def _context(rng: random.Random) -> str:
    sentences = _long_tail(rng, 2.0, 25)
    if rng.random() < RAMBLING_SHARE:
        sentences += rng.randint(15, 30)
    return " ".join(rng.choice(CONTEXT) for _ in range(sentences))


def _arithmetic(rng: random.Random) -> tuple[str, str, str]:
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    if rng.random() < 0.5:
        question, right, sign = f"What is {a} plus {b}?", a + b, "plus"
    else:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        question, right, sign = f"What is {a} times {b}?", a * b, "times"
    wrong = right + rng.choice([-10, -2, -1, 1, 2, 10])
    template = rng.choice(
        [
            "{a} {sign} {b} makes {x}.",
            "If you take {a} {sign} {b}, the result is {x}.",
            "The answer is {x}, since {a} {sign} {b} equals {x}.",
        ]
    )
    chosen = template.format(a=a, b=b, sign=sign, x=right)
    rejected = template.format(a=a, b=b, sign=sign, x=wrong)
    return question, chosen, rejected


def _facts(rng: random.Random) -> tuple[str, str, str]:
    table, ask, say = rng.choice(
        [
            (CAPITALS, "What is the capital of {k}?", "The capital of {k} is {v}."),
            (
                SYMBOLS,
                "What is the chemical symbol for {k}?",
                "The chemical symbol for {k} is {v}.",
            ),
            (AUTHORS, "Who wrote {k}?", "{k} was written by {v}."),
        ]
    )
    key = rng.choice(list(table))
    wrong = rng.choice([v for k, v in table.items() if k != key])
    return ask.format(k=key), say.format(k=key, v=table[key]), say.format(k=key, v=wrong)


def _format(rng: random.Random) -> tuple[str, str, str]:
    topic = rng.choice(TOPICS)
    terms = rng.sample(TOPIC_TERMS[topic], 3)
    plain = f"Think about the {terms[0]}, the {terms[1]} and the {terms[2]}."
    kind = rng.choice(["bullets", "json", "upper", "word", "numbered"])
    if kind == "bullets":
        request = "Answer as a bulleted list."
        followed = " ".join(f"- {t.capitalize()}." for t in terms)
    elif kind == "json":
        request = 'Answer in JSON with the key "tips".'
        followed = json.dumps({"tips": terms})
    elif kind == "upper":
        request = "Answer in capital letters only."
        followed = plain.upper()
    elif kind == "word":
        request = "Answer with one word only."
        followed = terms[0].split()[0].capitalize()
        plain = f"The most important thing is the {terms[0]}, and it deserves your attention."
    else:
        request = "Answer as numbered steps."
        followed = " ".join(f"{i}. {t.capitalize()}." for i, t in enumerate(terms, start=1))
    question = f"How do I get started with {topic}? {request}"
    # A format answer carries no filler: the filler would break the format it is judged on.
    return question, followed, plain


def _relevance(rng: random.Random) -> tuple[str, str, str]:
    asked, other = rng.sample(TOPICS, 2)
    context = f"Last week I spent hours on {other}, which went fine."
    question = f"{context} Now, what matters most when {asked}?"
    answer = "The key with {t} is the {a} and the {b}."
    a, b = rng.sample(TOPIC_TERMS[asked], 2)
    c, d = rng.sample(TOPIC_TERMS[other], 2)
    return question, answer.format(t=asked, a=a, b=b), answer.format(t=other, a=c, b=d)


_MAKERS = {
    "arithmetic": _arithmetic,
    "facts": _facts,
    "format": _format,
    "relevance": _relevance,
}


def make_hard_pairs(count: int, *, seed: int, flip_rate: float = 0.1) -> list[dict]:
    """`count` rows of {prompt, chosen, rejected, category}; `flip_rate` of them with the labels swapped.

    Categories take turns, so every category has count/4 rows. The same (count, seed, flip_rate) gives the
    same rows.
    """
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        question, chosen, rejected = _MAKERS[category](rng)
        if category != "format":
            chosen, rejected = _wrap(chosen, rng), _wrap(rejected, rng)
        else:
            chosen, rejected = " " + chosen, " " + rejected
        prompt = f"{_context(rng)} {question}".strip()
        if rng.random() < flip_rate:
            chosen, rejected = rejected, chosen
        rows.append(
            {"prompt": prompt, "chosen": chosen, "rejected": rejected, "category": category}
        )
    rng.shuffle(rows)
    return rows


def with_annotator_votes(
    rows: list[dict], *, annotators: int, error_rate: float, seed: int
) -> list[dict]:
    """Clean rows as the aggregated pairs export writes them after `annotators` people judged each pair.

    Each annotator picks the wrong response with probability `error_rate`, independently; the row's chosen
    side is the majority (an odd `annotators` leaves no tie) and `votes_chosen` / `votes_rejected` count the
    votes on each side, so a row whose majority is wrong is flipped and carries the minority's votes.
    """
    if annotators % 2 == 0:
        raise ValueError("annotators must be odd so that every pair has a majority")
    rng = random.Random(seed)
    voted = []
    for row in rows:
        right = sum(rng.random() >= error_rate for _ in range(annotators))
        wrong = annotators - right
        chosen, rejected = row["chosen"], row["rejected"]
        if wrong > right:
            chosen, rejected = rejected, chosen
        voted.append(
            {
                **row,
                "chosen": chosen,
                "rejected": rejected,
                "votes_chosen": max(right, wrong),
                "votes_rejected": min(right, wrong),
            }
        )
    return voted
