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


# The wider demo (apps/core/demo.py): cooking, travel and everyday maths, each question with a
# careful, a terse and a hasty answer (the models' names say which), so simulated annotators
# have something real to agree and disagree about.
COOKING = [
    (
        "How long should I boil an egg for a runny yolk?",
        "About **6 minutes** from boiling for a large egg: lower it into already-boiling water, "
        "then cool it in cold water for a minute so it peels easily.",
        "6 minutes.",
        "Boil it for 15 minutes; the yolk stays runny if you stir the water.",
    ),
    (
        "Can I substitute baking soda for baking powder?",
        "Only with an acid: use about ¼ teaspoon of baking soda plus ½ teaspoon of cream of tartar "
        "(or some buttermilk or yoghurt in the batter) for each teaspoon of baking powder.",
        "Yes, with some acid added.",
        "Yes, swap them one for one; they are the same thing.",
    ),
    (
        "Why does my risotto turn out gluey?",
        "Usually from overcooking or stirring too hard at the end. Add hot stock a ladle at a time, "
        "stop while the rice still has a slight bite, and rest it two minutes with butter and cheese.",
        "It is overcooked.",
        "Rinse the rice well first; risotto needs all the starch washed off.",
    ),
    (
        "How do I keep fresh basil from wilting?",
        "Treat it like cut flowers: trim the stems, stand them in a glass of water at room "
        "temperature, and loosely cover the leaves with a bag. Keep it out of the fridge.",
        "Keep it in water on the counter.",
        "Put it in the freezer overnight to firm it up.",
    ),
    (
        "What is the safe internal temperature for cooked chicken?",
        "**74 °C (165 °F)** in the thickest part, measured with a thermometer that does not touch "
        "the bone.",
        "74 °C.",
        "Once the outside is golden brown it is done.",
    ),
]

TRAVEL = [
    (
        "What should I pack for a week of hiking in the Alps in July?",
        "- Layers: a base layer, a fleece and a **waterproof shell** (afternoon storms are common).\n"
        "- Broken-in boots and two pairs of wool socks.\n- Sun hat, sunscreen, 2 litres of water "
        "capacity.\n- A paper map: phone signal drops in the valleys.",
        "Layers, a rain jacket and good boots.",
        "Shorts and sandals; it is summer, so it will be warm everywhere.",
    ),
    (
        "Do I need a visa to visit Japan for two weeks as an EU citizen?",
        "No: citizens of EU countries can visit Japan visa-free for short stays (up to 90 days for "
        "most). Check your own country's rules on the Japanese foreign ministry's site before you go.",
        "Usually not, for a short stay.",
        "Yes, every visitor needs a visa arranged months in advance.",
    ),
    (
        "How can I avoid jet lag on a flight from London to New York?",
        "Shift your sleep an hour earlier for a couple of days before, drink water on the flight, "
        "and on arrival get **daylight in the afternoon** and stay up until a local bedtime.",
        "Stay up until the local bedtime.",
        "Sleep as soon as you land, whatever the time.",
    ),
    (
        "Is it worth getting a rail pass for a week in Switzerland?",
        "Often yes if you move every day or two: the Swiss Travel Pass covers most trains, boats and "
        "city transport. If you stay in one place, a Half Fare Card is usually cheaper; compare both "
        "with your actual route.",
        "Yes, if you travel a lot.",
        "No, trains in Switzerland are free for tourists.",
    ),
]

MATHS = [
    (
        "A shirt costs £40 and is 25% off. What do I pay?",
        "25% of £40 is £10, so you pay **£30**.",
        "£30.",
        "£15, because 40 − 25 = 15.",
    ),
    (
        "What is the average of 4, 8 and 15?",
        "(4 + 8 + 15) / 3 = 27 / 3 = **9**.",
        "9.",
        "It is 8, the middle number.",
    ),
    (
        "How many seconds are there in a day?",
        "24 × 60 × 60 = **86,400** seconds.",
        "86,400.",
        "About 1,440.",
    ),
    (
        "If I save £150 a month, how long until I have £2,000?",
        "£2,000 / £150 ≈ 13.3, so **14 months** (after 13 months you have £1,950).",
        "14 months.",
        "13 months exactly.",
    ),
]

# Which model wrote the better answer: the simulated annotators' hidden truth.
MODEL_QUALITY = {"careful-7b": 3, "terse-3b": 2, "hasty-1b": 1}
MODELS = ("careful-7b", "terse-3b", "hasty-1b")


def topic_rows() -> list[dict]:
    """Cooking, travel, maths and advice questions, each with its three answers."""
    return [
        {
            "prompt": question,
            "responses": [
                {"text": text, "model": model} for text, model in zip(answers, MODELS, strict=True)
            ],
        }
        for question, *answers in [*COOKING, *TRAVEL, *MATHS, *ADVICE]
    ]


# What an annotator learns after the fact, for the hindsight project: the consequence of
# following the advice.
CONSEQUENCES = {
    "How long should I boil an egg for a runny yolk?": "They followed it and the yolk was set hard.",
    "Can I substitute baking soda for baking powder?": "The cake rose, but tasted slightly bitter.",
    "How do I keep fresh basil from wilting?": "The basil stayed fresh for five days.",
    "What should I pack for a week of hiking in the Alps in July?": "A storm hit on day two; the rain shell kept them dry.",
    "How can I avoid jet lag on a flight from London to New York?": "They slept at 10 pm local time and felt fine the next day.",
    "Is it worth getting a rail pass for a week in Switzerland?": "They bought the pass and used it on eleven journeys.",
    "I keep forgetting to drink water during the day. Any tips?": "A month later they drink two litres a day with the bottle on the desk.",
    "How do I politely decline a meeting invitation?": "The organiser thanked them and sent the notes.",
    "What should I check before buying a used bicycle?": "The bike they bought had a cracked frame near the welds.",
    "What is the safe internal temperature for cooked chicken?": "The chicken, checked at 74 °C, was juicy and safe.",
}

# Prompts a demonstration project's annotators answer in their own words, with a model answer
# each simulated annotator paraphrases.
DEMONSTRATIONS = [
    (
        "Explain what a hash map is to a beginner, in three sentences.",
        "A hash map stores values under keys, like words in a dictionary. It turns each key into a "
        "number (its hash) that says where to look, so finding a value is fast. Python's `dict` is one.",
    ),
    (
        "Write a friendly two-line reminder that rent is due on Friday.",
        "Hi all, a quick reminder that rent is due this Friday. Thanks, and shout if anything is unclear!",
    ),
    (
        "Give three tips for a first visit to Lisbon.",
        "1. Wear comfortable shoes: the hills are steep.\n2. Ride tram 28 early, before the queues.\n"
        "3. Try a pastel de nata while it is warm.",
    ),
    (
        "How do I convert 350 °F to Celsius?",
        "Subtract 32 and multiply by 5/9: (350 − 32) × 5/9 ≈ **177 °C**.",
    ),
    (
        "Suggest a quick vegetarian dinner with chickpeas.",
        "Fry an onion and garlic, add a tin of chickpeas, a tin of tomatoes and a spoon of curry "
        "paste, simmer 15 minutes and stir in spinach. Serve with rice.",
    ),
    (
        "Explain the difference between a list and a tuple in Python.",
        "A list can be changed after it is made (append, remove); a tuple cannot. Use a tuple for a "
        "fixed group of values, such as coordinates, and a list for a collection that grows.",
    ),
    (
        "What is compound interest, in plain words?",
        "Interest earned on your interest: each year the interest is added to the balance, so the "
        "next year's interest is calculated on a bigger amount.",
    ),
    (
        "Write a polite message asking a neighbour to turn their music down.",
        "Hi! Hope you're well. The music carries quite a bit into our flat in the evenings; could you "
        "turn it down a little after 10? Thanks so much.",
    ),
]

# Conversations for the chat project: what the user wrote and what the model answered.
CHATS = [
    [
        (
            "What can I cook with eggs, spinach and feta?",
            "A spinach and feta omelette: wilt the spinach, pour in beaten eggs, crumble feta on top and "
            "fold. Or bake it all in a dish as a frittata for 20 minutes at 180 °C.",
        ),
        (
            "Can I make it without a stove?",
            "Yes: whisk everything in a mug and microwave for about 90 seconds, stirring halfway.",
        ),
    ],
    [
        (
            "Plan one day in Rome for me.",
            "Morning: the Colosseum and the Forum (book ahead). Lunch in Monti. Afternoon: the Pantheon "
            "and Piazza Navona. Evening: Trastevere for dinner.",
        ),
        (
            "Too much walking. Something lighter?",
            "Take the Colosseum in the morning, then a taxi to the Pantheon area and spend the afternoon "
            "in cafés around Piazza Navona.",
        ),
    ],
    [
        (
            "Why is my Python loop so slow over a million rows?",
            "Each iteration runs in the interpreter. Use vectorised operations (NumPy, pandas), or a "
            "built-in like `sum()` or a comprehension, which run in C.",
        ),
        (
            "Give me an example.",
            "Instead of `total = 0; for x in xs: total += x * 2`, write `total = 2 * sum(xs)`; "
            "with NumPy, `(arr * 2).sum()`.",
        ),
    ],
    [
        (
            "Is 1 a prime number?",
            "No. A prime has exactly two distinct divisors, 1 and itself; 1 has only one.",
        ),
    ],
    [
        (
            "How do I split a bill of £87 between 3 people with a 10% tip?",
            "£87 × 1.10 = £95.70; divided by 3 that is **£31.90** each.",
        )
    ],
    [
        ("Translate 'where is the station?' into Spanish.", "¿Dónde está la estación?"),
        ("And into French?", "Où est la gare ?"),
    ],
]
