"""What the demo's reward models feed (apps/core/demo_models.py): an autopilot rule per project."""

import pytest

from apps.autopilot.models import TrainingRule
from apps.core.demo import NAMES, demo_seed
from apps.core.demo_models import REWARD_RUNS, demo_rules
from apps.projects.models import FeedbackKind
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_every_demo_project_gets_one_autopilot_rule_where_its_kind_trains_a_reward_model():
    demo_seed(train="no")
    admin = StaffFactory()

    made = demo_rules(admin=admin, names=NAMES)
    again = demo_rules(admin=admin, names=NAMES)

    rules = TrainingRule.objects.select_related("project")
    # Without the demo's model root (no tiny GPT-2), thumbs and demonstrations have none.
    assert {rule.project.kind: rule.objective for rule in rules} == {
        kind: objective for kind, (objective, *_) in REWARD_RUNS.items()
    }
    assert len(made) == len(REWARD_RUNS) and again == []
    chat = rules.get(project__kind=FeedbackKind.CHAT)
    assert chat.cron and chat.every_labels is None
