import random

import pytest

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import Membership, Role
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task
from tests.models_offered import offer
from tests.trainer.tiny import BAD, GOOD, NEUTRAL, TOPICS, build_tiny_bert


def learnable_pair(rng: random.Random) -> tuple[str, str, str]:
    topic = rng.choice(TOPICS)
    filler = " ".join(rng.sample(NEUTRAL, 3))
    good = f"{filler} {rng.choice(GOOD)} {rng.choice(GOOD)}"
    bad = f"{filler} {rng.choice(BAD)} {rng.choice(BAD)}"
    return f"{topic} {rng.choice(NEUTRAL)}", good, bad


def seed_pairwise_labels(project, *, prompts: int, seed: int = 0):
    """Pairs whose better answer holds 'good' words, judged through the real services."""
    rng = random.Random(seed)
    annotator = add_member(project)
    for _ in range(prompts):
        _, good, bad = learnable_pair(rng)
        good_first = rng.random() < 0.5
        make_task(project, texts=[good, bad] if good_first else [bad, good])
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        texts = [item.response.text for item in lease.task.items.order_by("position")]
        choice = "A" if any(word in texts[0].split() for word in GOOD) else "B"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": choice, "strength": "clearly"},
        )
    return annotator


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    # In a folder of its own, which tests make a model root (tests/models_offered.py).
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture
def tiny_bert_ref(tiny_bert, settings) -> str:
    """The tiny backbone as a run config names it: a base model the operator made available."""
    return offer(settings, tiny_bert)


@pytest.fixture
def labeled_project(db):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    seed_pairwise_labels(project, prompts=40)
    return project
