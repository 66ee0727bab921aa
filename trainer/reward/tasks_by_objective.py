"""Which task class implements which reward objective."""

from trainer.reward.listwise import ListwiseTask
from trainer.reward.pairwise import PairwiseTask
from trainer.reward.principle import PrincipleTask
from trainer.reward.reaction import ReactionTask
from trainer.reward.tasks import RewardTask

TASKS: dict[str, type[RewardTask]] = {
    task.objective: task for task in (PairwiseTask, ListwiseTask, PrincipleTask, ReactionTask)
}
