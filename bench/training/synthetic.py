"""A learnable synthetic preference set for the reward-model benchmark (no download, deterministic).

Each prompt asks about one topic. Most of the time the chosen response gives specific advice on that topic
and the rejected one drifts to another topic, brushes the user off, or stays on topic with advice that only
sounds specific ("pay attention to the details"). In 40% of prompts the user asks for a short or a detailed
answer and both responses are on topic: the one of the requested length wins (the hard case, which needs
prompt and response read together). Otherwise lengths are drawn independently from a long-tailed
distribution, like real chat data, so length alone is no shortcut and padding matters.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS: dict[str, list[str]] = {
    "baking bread": ["flour", "yeast", "dough", "oven", "crust", "knead", "proof the loaf"],
    "repairing a bicycle": ["chain", "tyre", "brake pads", "derailleur", "spokes", "inner tube"],
    "learning the guitar": ["chords", "frets", "strumming", "tuning", "scales", "finger picking"],
    "growing tomatoes": [
        "seedlings",
        "compost",
        "watering",
        "sunlight",
        "pruning suckers",
        "stakes",
    ],
    "saving for retirement": [
        "pension",
        "index funds",
        "compound interest",
        "budget",
        "employer match",
    ],
    "training a puppy": ["treats", "leash", "crate", "sit command", "praise", "house training"],
    "writing a cover letter": [
        "hiring manager",
        "achievements",
        "job description",
        "tone",
        "closing line",
    ],
    "planning a hiking trip": ["trail map", "water", "boots", "weather forecast", "first aid kit"],
    "learning to swim": ["breathing", "floating", "kicking", "goggles", "freestyle stroke", "pool"],
    "fixing a leaking tap": ["washer", "valve", "wrench", "water supply", "cartridge", "drip"],
    "studying for an exam": [
        "flashcards",
        "practice papers",
        "schedule",
        "sleep",
        "revision notes",
    ],
    "brewing coffee": ["grind size", "water temperature", "beans", "pour over", "extraction"],
    "painting a room": ["primer", "roller", "masking tape", "brush", "second coat", "ventilation"],
    "running a first marathon": ["long runs", "pacing", "hydration", "rest days", "running shoes"],
    "keeping houseplants alive": ["drainage", "light", "repotting", "overwatering", "humidity"],
    "cooking rice": ["rinse", "water ratio", "simmer", "lid", "rest", "fluff with a fork"],
}
FILLER = [
    "It helps to take this one step at a time.",
    "Many people find the first attempt the hardest.",
    "Keep notes so you can see what changed.",
    "Patience matters more than expensive equipment.",
    "Small, regular practice beats one long session.",
    "Check the result and adjust next time.",
    "A friend with experience can save you time.",
    "Do not worry if it is not perfect at first.",
]
# What an answer that sounds specific but says nothing mentions instead of the topic's own terms.
GENERIC = ["details", "basics", "process", "steps", "result", "first try", "right tools", "timing"]
# A share of prompts ask for a short or a detailed answer; there both answers are on topic and the one of
# the requested length is preferred, which needs the prompt and the response read together.
STYLED_SHARE = 0.4
STYLE_REQUESTS = {
    "short": ["Please keep it short.", "Just the key point, please.", "One line is enough."],
    "detailed": [
        "Please explain in detail.",
        "I want a thorough answer.",
        "Walk me through everything.",
    ],
}
DISMISSALS = [
    "I don't really feel like explaining that.",
    "Look it up yourself, it is not hard.",
    "That is a boring question.",
    "Why would anyone care about that?",
    "Figure it out, everyone else did.",
]


def _length(rng: random.Random) -> int:
    # Long-tailed sentence count: most answers are short, a few are long (like real chat logs).
    return min(14, 1 + int(rng.expovariate(1 / 3)))


def _helpful(topic: str, rng: random.Random, *, specific: bool = True, sentences: int = 0) -> str:
    words = TOPICS[topic] if specific else GENERIC
    parts = [f"Sure, here is how I would approach {topic}."]
    for k in range(sentences or _length(rng)):
        if k == 0 or rng.random() < 0.5:
            parts.append(f"Pay attention to the {rng.choice(words)} and the {rng.choice(words)}.")
        else:
            parts.append(rng.choice(FILLER))
    return " " + " ".join(parts)


def _rejected(topic: str, rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        other = rng.choice([t for t in TOPICS if t != topic])
        return _helpful(other, rng)
    if kind < 0.65:
        return _helpful(topic, rng, specific=False)
    sentences = [rng.choice(DISMISSALS)]
    sentences += [rng.choice(FILLER + DISMISSALS) for _ in range(_length(rng) - 1)]
    return " " + " ".join(sentences)


def _styled_pair(topic: str, rng: random.Random) -> tuple[str, str, str]:
    """Both answers are good; the one whose length matches the request wins (prompt and response interact)."""
    style = rng.choice(list(STYLE_REQUESTS))
    short = _helpful(topic, rng, sentences=rng.randint(1, 2))
    long = _helpful(topic, rng, sentences=rng.randint(5, 10))
    request = rng.choice(STYLE_REQUESTS[style])
    return (request, short, long) if style == "short" else (request, long, short)


def make_pairs(count: int, *, seed: int) -> list[dict]:
    """`count` rows of {prompt, chosen, rejected}; the same seed gives the same rows."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        topic = rng.choice(list(TOPICS))
        filler = " ".join(rng.choice(FILLER) for _ in range(rng.randint(0, 3)))
        if rng.random() < STYLED_SHARE:
            request, chosen, rejected = _styled_pair(topic, rng)
            prompt = f"Can you help me with {topic}? {request} {filler}"
        else:
            prompt = f"Can you help me with {topic}? {filler}"
            chosen, rejected = _helpful(topic, rng), _rejected(topic, rng)
        rows.append({"prompt": prompt.strip(), "chosen": chosen, "rejected": rejected})
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    """Write rows as JSONL and return the path."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
