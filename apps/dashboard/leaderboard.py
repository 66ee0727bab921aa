"""A Chatbot-Arena-style leaderboard: Bradley–Terry strengths of the models whose responses were
compared pairwise, on the Elo scale, with bootstrap confidence intervals and vote counts."""

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from apps.dashboard.selectors import counted_judgments
from apps.labeling.models import TaskItem
from apps.projects.models import Project
from apps.training.models import RunStatus, TrainingRun

ELO_SCALE, ELO_BASE = 400 / math.log(10), 1000.0
# The kinds whose judgments compare two models' responses: the only votes the board counts.
VOTE_KINDS = ("pairwise", "hindsight")


@dataclass(frozen=True)
class ModelScore:
    model: str
    rating: float
    low: float
    high: float
    votes: int
    wins: float


def bradley_terry(
    battles: list[tuple[int, int, float]], n_models: int, *, iterations: int = 200
) -> np.ndarray:
    """Log-strengths θ (mean 0) maximising Π σ(θ_a − θ_b)^w σ(θ_b − θ_a)^(1−w) over battles
    (a, b, w) with w = 1 if a won, 0.5 for a tie, by the MM algorithm (Hunter, 2004)."""
    wins = np.zeros(n_models)
    pair_games: Counter = Counter()
    for a, b, w in battles:
        wins[a] += w
        wins[b] += 1 - w
        pair_games[(a, b)] += 1
    strength = np.ones(n_models)
    # A tiny prior win and loss against an average opponent keeps unbeaten models finite.
    wins = wins + 0.5
    for _ in range(iterations):
        denominator = np.full(n_models, 1.0 / (1 + 1))  # the prior game, against strength 1
        for (a, b), games in pair_games.items():
            shared = games / (strength[a] + strength[b])
            denominator[a] += shared
            denominator[b] += shared
        updated = wins / denominator
        updated /= np.exp(np.mean(np.log(updated)))
        if np.allclose(updated, strength, rtol=1e-9, atol=1e-12):
            strength = updated
            break
        strength = updated
    return np.log(strength)


def _battles(project: Project) -> tuple[list[str], list[tuple[int, int, float]]]:
    """(model index a, model index b, score of a) for each counted pairwise judgment between two
    different models; both-bad verdicts are no battle."""
    judgments = counted_judgments(project).filter(kind__in=VOTE_KINDS)
    rows = list(judgments.values_list("task_id", "payload__choice"))
    sources: dict[int, dict[int, str]] = {}
    items = TaskItem.objects.filter(task_id__in={task for task, _ in rows}).values_list(
        "task_id", "position", "response__source"
    )
    for task_id, position, source in items:
        sources.setdefault(task_id, {})[position] = source or "unknown"
    models: dict[str, int] = {}
    battles = []
    for task_id, choice in rows:
        pair = sources.get(task_id, {})
        if choice not in ("A", "B", "tie") or len(pair) != 2 or pair[0] == pair[1]:
            continue
        a, b = (models.setdefault(pair[p], len(models)) for p in (0, 1))
        battles.append((a, b, {"A": 1.0, "B": 0.0, "tie": 0.5}[choice]))
    return list(models), battles


def model_leaderboard(*, project: Project, rounds: int = 200, seed: int = 0) -> list[ModelScore]:
    names, battles = _battles(project)
    if not battles:
        return []
    theta = bradley_terry(battles, len(names))
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(rounds):
        picks = rng.integers(0, len(battles), len(battles))
        samples.append(bradley_terry([battles[i] for i in picks], len(names), iterations=100))
    low, high = np.percentile(np.array(samples), [2.5, 97.5], axis=0)
    votes, wins = Counter(), Counter()
    for a, b, w in battles:
        votes[a] += 1
        votes[b] += 1
        wins[a] += w
        wins[b] += 1 - w
    board = [
        ModelScore(
            model=name,
            rating=ELO_BASE + ELO_SCALE * theta[i],
            low=ELO_BASE + ELO_SCALE * low[i],
            high=ELO_BASE + ELO_SCALE * high[i],
            votes=votes[i],
            wins=wins[i],
        )
        for i, name in enumerate(names)
    ]
    return sorted(board, key=lambda s: -s.rating)


def policy_win_rates(*, project: Project) -> list[TrainingRun]:
    """Trained policies with their reward-model win rate against the base policy."""
    return list(
        TrainingRun.objects.filter(
            project=project, family="policy", status=RunStatus.SUCCEEDED
        ).order_by("-finished_at")
    )
