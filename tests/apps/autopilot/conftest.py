import random

import pytest

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import Membership, Role
from tests.apps.training.conftest import (  # noqa: F401 (fixtures shared with the training tests)
    learnable_pair,
    tiny_bert,
    tiny_bert_ref,
)
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task
from tests.trainer.tiny import GOOD

REWARD_CONFIG = {"num_epochs": 6, "batch_size": 4, "learning_rate": 2e-3}


def add_labels(project, count: int, *, annotator=None, flip: bool = False, seed: int = 0, **task):
    """`count` new learnable pairwise tasks, judged through the real services (the better answer
    holds 'good' words; `flip` judges the other way). Returns the annotator."""
    rng = random.Random(seed)
    annotator = annotator or add_member(project)
    made = []
    for _ in range(count):
        _, good, bad = learnable_pair(rng)
        texts = [good, bad] if rng.random() < 0.5 else [bad, good]
        made.append(make_task(project, texts=texts, **task).pk)
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        texts = [item.response.text for item in lease.task.items.order_by("position")]
        good_first = any(word in texts[0].split() for word in GOOD)
        choice = "A" if good_first != flip else "B"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": choice, "strength": "clearly"},
        )
    return annotator


@pytest.fixture
def pairwise_project(db):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project
