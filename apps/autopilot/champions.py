"""The champion registry and its gate: a finished run is a challenger, promoted only if it beats
the champion on the same held-out data; every decision is recorded.

Reward models are measured on the project's frozen evaluation pairs (`FrozenEvalRow`: every
held-out judgment, or pair, frozen label and all after the first gate that saw it) and on its
pairwise gold tasks (never exported, so never trained on; their known answer is the label).
Challenger and champion are scored on exactly the same items, minus any whose prompt either of
them trained on (a prompt is what the snapshot's split holds out: a prompt row),
and compared item by item: the challenger is promoted only if the lower end of the
paired-bootstrap interval of its accuracy gain is above a margin, so a challenger that is no
better and happened to win a small, noisy set stays out. Policies are
measured by their win rate over the champion policy, judged by the champion reward model (the
trainer measures it when the policy starts from the champion and is judged by the champion reward
model).
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.autopilot.models import (
    Champion,
    Decision,
    Family,
    FrozenEvalRow,
    ModelDecision,
    RuleFiring,
)
from apps.core import events
from apps.core.errors import ApplicationError, Conflict
from apps.core.jobs import crash_point
from apps.training.datasets import split_snapshot
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_dir, run_model_dir, storage_root

log = logging.getLogger(__name__)

PAIRWISE_REWARD = ("reward_pairwise",)
MIN_EVAL_PAIRS = 2
BOOTSTRAP_SAMPLES = 2000


@dataclass
class Verdict:
    promote: bool
    reason: str
    metrics: dict = field(default_factory=dict)


def _key(value) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f.read().split("\n") if line.strip()]


def _run_files(run: TrainingRun) -> tuple[list[dict], list[dict]]:
    train_path, eval_path, _, _ = split_snapshot(
        snapshot=run.snapshot,
        snapshot_path=storage_root() / run.snapshot.file_path,
        out_dir=run_dir(run) / "data",
    )
    return _read_jsonl(train_path), _read_jsonl(eval_path)


def pair_margins(model_dir: Path, rows: list[dict]) -> list[float]:
    """The model's score of the chosen response minus that of the rejected one, per pair."""
    from trainer.scoring import load_reward_model

    scorer = load_reward_model(model_dir)
    prompts = [row["prompt"] for row in rows]
    chosen = scorer.score(prompts, [row["chosen"] for row in rows])
    rejected = scorer.score(prompts, [row["rejected"] for row in rows])
    return [c - r for c, r in zip(chosen, rejected, strict=True)]


def wins(margins: list[float]) -> list[float]:
    """1 where the chosen response scores higher, 0.5 on a tie, else 0."""
    return [1.0 if m > 0 else 0.5 if m == 0 else 0.0 for m in margins]


def bradley_terry_loss(margins: list[float]) -> float:
    """Mean −log σ(margin): the held-out loss the reward model was trained to lower."""
    return float(np.mean(np.logaddexp(0.0, -np.asarray(margins, dtype=float))))


def bootstrap_interval(
    differences: list[float],
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the mean of paired differences, resampling pairs with replacement."""
    values = np.asarray(differences, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _prompt_of(row: dict) -> str:
    """The prompt a row belongs to as the snapshot's split knows it: its prompt id (the split's
    unit; two prompts may share a text), else its text."""
    if row.get("prompt_id") is not None:
        return f"id:{row['prompt_id']}"
    return _key(row["prompt"])


def _frozen_key(row: dict) -> str:
    """One frozen row per judgment (a per-judgment snapshot), else per pair of responses (an
    aggregated one): its label is the one first seen, and never changes."""
    if row.get("judgment_id") is not None:
        return _key({"judgment_id": row["judgment_id"]})
    return _key(
        {"prompt": row["prompt"], "pair": sorted(_key(row[s]) for s in ("chosen", "rejected"))}
    )


def frozen_eval_rows_extend(*, project_id: int, rows: list[dict]) -> int:
    """Freezes the held-out rows the set does not hold yet, with their labels as they are now: a
    judgment, or a pair, already frozen keeps its label."""
    known = {
        _frozen_key(row)
        for row in FrozenEvalRow.objects.filter(project_id=project_id).values_list("row", flat=True)
    }
    new = {}
    for row in rows:
        key = _frozen_key(row)
        if key not in known and key not in new:
            new[key] = FrozenEvalRow(
                project_id=project_id, prompt_key=_key(row["prompt"]), row_key=key, row=row
            )
    FrozenEvalRow.objects.bulk_create(list(new.values()), ignore_conflicts=True)
    return len(new)


def gold_eval_rows(*, project_id: int, form: str = "standard") -> list[dict]:
    """The project's pairwise gold tasks as held-out pairs (prompt, chosen, rejected), the known
    answer as the label. Gold tasks never leave the project in an export, so no run trained on
    them. Gold answers that are not A or B (a tie) make no pair."""
    from apps.exports.datasets import completion_value, prompt_values, task_responses
    from apps.labeling.models import Task

    gold = list(
        Task.objects.filter(project_id=project_id, is_gold=True).values_list(
            "pk", "prompt_id", "gold_payload"
        )
    )
    responses = task_responses({task_id for task_id, _, _ in gold})
    prompts = prompt_values({prompt_id for _, prompt_id, _ in gold}, form=form)
    rows = []
    for task_id, prompt_id, answer in gold:
        choice = (answer or {}).get("choice")
        texts = [text for _, text in responses.get(task_id, [])]
        if choice not in ("A", "B") or len(texts) != 2:
            continue
        chosen, rejected = texts if choice == "A" else texts[::-1]
        rows.append(
            {
                "prompt_id": prompt_id,
                "prompt": prompts[prompt_id],
                "chosen": completion_value(chosen, form),
                "rejected": completion_value(rejected, form),
            }
        )
    return rows


@dataclass(frozen=True)
class PairedComparison:
    """Challenger and champion scored on the same items: per item 1 (right), 0.5 (tie), 0."""

    challenger: list[float]
    champion: list[float]

    @property
    def n(self) -> int:
        return len(self.challenger)

    @property
    def gain(self) -> float:
        return (sum(self.challenger) - sum(self.champion)) / self.n

    def interval(self) -> tuple[float, float]:
        return bootstrap_interval(
            [a - b for a, b in zip(self.challenger, self.champion, strict=True)]
        )

    def only_challenger_right(self) -> int:
        return sum(a > b for a, b in zip(self.challenger, self.champion, strict=True))

    def only_champion_right(self) -> int:
        return sum(b > a for a, b in zip(self.challenger, self.champion, strict=True))


def paired_verdict(comparison: PairedComparison, *, margin: float) -> tuple[bool, str, dict]:
    """Promote only if the lower end of the 95 % paired-bootstrap interval of the accuracy gain
    (challenger − champion, item by item) is above `margin`: the gain must be more than the luck
    of which items the held-out set happens to hold."""
    n = comparison.n
    low, high = comparison.interval()
    challenger_accuracy = sum(comparison.challenger) / n
    champion_accuracy = sum(comparison.champion) / n
    metrics = {
        "challenger_accuracy": challenger_accuracy,
        "champion_accuracy": champion_accuracy,
        "gain": comparison.gain,
        "gain_ci95": [low, high],
        "margin": margin,
        "only_challenger_right": comparison.only_challenger_right(),
        "only_champion_right": comparison.only_champion_right(),
        "eval_pairs": n,
    }
    text = (
        f"accuracy {challenger_accuracy:.3f} vs champion {champion_accuracy:.3f} on the same {n} "
        f"held-out pairs (gain {comparison.gain:+.3f}, 95% paired-bootstrap CI "
        f"[{low:+.3f}, {high:+.3f}]; right where the other is wrong: challenger "
        f"{metrics['only_challenger_right']}, champion {metrics['only_champion_right']})"
    )
    if low > margin + 1e-12:
        return True, f"{text}: the interval is above {margin:+.3f}", metrics
    return False, f"{text}: the interval's lower end is not above {margin:+.3f}", metrics


def _trained_prompts(run: TrainingRun | None) -> set[str]:
    if run is None or run.snapshot is None:
        return set()
    train_rows, _ = _run_files(run)
    return {_prompt_of(row) for row in train_rows}


def reward_gate(*, challenger: TrainingRun, champion: TrainingRun | None) -> Verdict:
    """Scores challenger and champion on the same held-out items: the frozen pairs and the
    pairwise gold tasks, minus any whose
    prompt either model trained on. Promotes when the paired-bootstrap interval of the accuracy
    gain lies above ARBITER_AUTOPILOT_REWARD_MIN_GAIN (see `paired_verdict`)."""
    if challenger.snapshot is None:
        return Verdict(False, "the run has no snapshot to measure it on")
    train_rows, eval_rows = _run_files(challenger)
    if challenger.objective not in PAIRWISE_REWARD:
        if champion is None:
            return Verdict(True, "the project's first reward model")
        return Verdict(
            False,
            f"the automatic gate measures pairwise reward models; promote {challenger.objective} by hand",
        )
    if champion is None:
        first = wins(pair_margins(run_model_dir(challenger), eval_rows)) if eval_rows else []
        accuracy = sum(first) / len(first) if first else None
        return Verdict(
            True,
            "the project's first reward model",
            {"challenger_accuracy": accuracy, "eval_pairs": len(first)},
        )
    trained_on = {_prompt_of(row) for row in train_rows} | _trained_prompts(champion)
    frozen = [
        row
        for row in FrozenEvalRow.objects.filter(project_id=challenger.project_id).values_list(
            "row", flat=True
        )
        if _prompt_of(row) not in trained_on
    ]
    form = (challenger.snapshot.options or {}).get("form", "standard")
    gold = [
        row
        for row in gold_eval_rows(project_id=challenger.project_id, form=form)
        if _prompt_of(row) not in trained_on
    ]
    items = frozen + gold
    if len(items) < MIN_EVAL_PAIRS:
        return Verdict(
            False,
            f"only {len(items)} held-out pairs neither model trained on; "
            f"the gate needs {MIN_EVAL_PAIRS}",
            {"eval_pairs": len(items), "frozen_pairs": len(frozen), "gold_pairs": len(gold)},
        )
    challenger_margins = pair_margins(run_model_dir(challenger), items)
    champion_margins = pair_margins(run_model_dir(champion), items)
    promote, text, metrics = paired_verdict(
        PairedComparison(wins(challenger_margins), wins(champion_margins)),
        margin=settings.ARBITER_AUTOPILOT_REWARD_MIN_GAIN,
    )
    metrics |= {
        "frozen_pairs": len(frozen),
        "gold_pairs": len(gold),
        "challenger_loss": bradley_terry_loss(challenger_margins),
        "champion_loss": bradley_terry_loss(champion_margins),
        "eval_set_sha256": _key(sorted(_key(row) for row in items)),
    }
    where = f"{len(frozen)} frozen held-out pairs" + (
        f" and {len(gold)} gold tasks" if gold else ""
    )
    return Verdict(promote, f"{text}; measured on {where}", metrics)


def policy_gate(
    *, challenger: TrainingRun, champion: TrainingRun | None, judge: TrainingRun | None
) -> Verdict:
    """Win rate over the champion policy, judged by the champion reward model, at or above
    ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE."""
    threshold = settings.ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE
    config = challenger.config or {}
    if judge is None:
        return Verdict(False, "no champion reward model to judge the policy")
    # RAFT, GRPO and RLOO are judged by the (first) reward model they train on when none is named.
    judged_by = config.get("judge_reward_model") or (
        config.get("reward_model")
        if challenger.objective == "raft"
        else next(iter(config.get("reward_models") or []), None)
    )
    if judged_by != f"run:{judge.pk}":
        return Verdict(
            False, f"judged by {judged_by or 'no reward model'}, not by the champion run:{judge.pk}"
        )
    if champion is not None and config.get("model") != f"run:{champion.pk}":
        return Verdict(
            False,
            f"started from {config.get('model')}, not from the champion policy run:{champion.pk}, so "
            "its win rate is not against the champion",
        )
    win_rate = (challenger.metrics or {}).get("win_rate_vs_base")
    if win_rate is None:
        return Verdict(False, "the run measured no win rate")
    if (challenger.metrics or {}).get("watch_hacking_suspected"):
        return Verdict(
            False,
            "reward hacking suspected: its training reward rose on held-out prompts while the "
            "held-out judge's fell",
        )
    against = f"champion run {champion.pk}" if champion else f"base model {config.get('model')}"
    metrics = {"win_rate": win_rate, "threshold": threshold, "judge_run": judge.pk}
    text = f"win rate {win_rate:.3f} over {against}, judged by reward run {judge.pk}"
    if win_rate >= threshold:
        return Verdict(True, text, metrics)
    return Verdict(False, f"{text} is below {threshold:.2f}", metrics)


def _rule_of(run: TrainingRun):
    firing = RuleFiring.objects.filter(run=run).select_related("rule").first()
    return firing.rule if firing else None


def run_gate(*, run_id: int) -> ModelDecision | None:
    """Decides a succeeded run once: promoted (it becomes the champion) or rejected, with the
    reason. Safe to deliver twice: a run already decided by the gate is left alone. A promotion
    starts the chain's next stage in the same transaction."""
    run = TrainingRun.objects.select_related("project", "snapshot").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.SUCCEEDED:
        return None
    if ModelDecision.objects.filter(run=run, by_gate=True).exists():
        return None
    from apps.autopilot.selectors import champion_run

    champion = champion_run(project=run.project, family=run.family)
    try:
        if run.family == Family.REWARD:
            verdict = reward_gate(challenger=run, champion=champion)
        else:
            verdict = policy_gate(
                challenger=run,
                champion=champion,
                judge=champion_run(project=run.project, family=Family.REWARD),
            )
    except Exception as exc:  # a model that does not load is rejected with the reason, not retried
        log.exception("Gating run %s failed", run.pk)
        verdict = Verdict(False, f"could not be evaluated: {type(exc).__name__}: {exc}")
    crash_point("autopilot.gated")
    try:
        with transaction.atomic():
            decision = _decide(
                run=run,
                previous=champion,
                decision=Decision.PROMOTED if verdict.promote else Decision.REJECTED,
                verdict=verdict,
                by_gate=True,
                actor=None,
                rule=_rule_of(run),
            )
            if run.family == Family.REWARD and run.objective in PAIRWISE_REWARD and run.snapshot:
                # Held-out pairs first seen now join the frozen set, for the next challengers.
                # Not before this decision: the newest labels may carry the very mistakes the
                # challenger learned (one careless annotator), and would vouch for it.
                _, eval_rows = _run_files(run)
                frozen_eval_rows_extend(project_id=run.project_id, rows=eval_rows)
            if verdict.promote:
                from apps.autopilot.chains import chain_after_promotion

                chain_after_promotion(run=run)
    except IntegrityError:
        return None  # a twin delivery decided first
    return decision


def _decide(*, run, previous, decision, verdict: Verdict, by_gate, actor, rule) -> ModelDecision:
    row = ModelDecision.objects.create(
        project=run.project,
        family=run.family,
        run=run,
        previous=previous,
        decision=decision,
        by_gate=by_gate,
        actor=actor,
        rule=rule,
        metrics=verdict.metrics,
        snapshot_sha256=run.snapshot.sha256 if run.snapshot else "",
        reason=verdict.reason,
    )
    if decision in (Decision.PROMOTED, Decision.ROLLED_BACK):
        Champion.objects.update_or_create(
            project=run.project, family=run.family, defaults={"run": run}
        )
        if decision == Decision.PROMOTED:
            events.emit(
                events.EventName.MODEL_PROMOTED,
                project_id=run.project_id,
                payload={
                    "run": run.pk,
                    "family": run.family,
                    "previous": previous.pk if previous else None,
                    "by": f"user {actor.pk}" if actor else (f"rule {rule.pk}" if rule else "gate"),
                    "metrics": verdict.metrics,
                    "snapshot_sha256": row.snapshot_sha256,
                    "reason": verdict.reason,
                },
            )
        if run.family == Family.REWARD:
            transaction.on_commit(lambda: _after_new_reward_champion(run, by_gate=by_gate))
        else:
            from apps.autopilot.chains import chat_follow_champion

            chat_follow_champion(run=run)
    return row


def _after_new_reward_champion(run: TrainingRun, *, by_gate: bool) -> None:
    """Suggestions and the uncertainty queue follow the new champion. A run fresh from the gate
    was scored when it finished (`training_run_finished`): only the queue is ordered again (and
    again by the scoring itself, should it end later). A run promoted or restored by hand may be
    older than some tasks: it scores them again."""
    from apps.projects.models import QueueOrder
    from apps.training.scoring import queue_reorder_by_uncertainty
    from apps.training.tasks import score_tasks

    if not by_gate:
        score_tasks.delay(run.pk)
    elif run.project.queue_order == QueueOrder.UNCERTAINTY:
        queue_reorder_by_uncertainty(project=run.project)


def _manual_target(*, project, run_id: int) -> TrainingRun:
    run = (
        TrainingRun.objects.select_related("project", "snapshot")
        .filter(project=project, pk=run_id)
        .first()
    )
    if run is None:
        raise ApplicationError(gettext("No such run in this project."), extra={"status": 404})
    if run.status != RunStatus.SUCCEEDED:
        raise Conflict(gettext("Only a succeeded run can serve."))
    return run


@transaction.atomic
def champion_promote(*, project, run_id: int, actor: User, reason: str = "") -> ModelDecision:
    """An admin makes a succeeded run the champion, whatever the gate said."""
    from apps.autopilot.selectors import champion_run

    run = _manual_target(project=project, run_id=run_id)
    previous = champion_run(project=project, family=run.family)
    if previous is not None and previous.pk == run.pk:
        raise Conflict(gettext("Run %(pk)s is already the champion.") % {"pk": run.pk})
    return _decide(
        run=run,
        previous=previous,
        decision=Decision.PROMOTED,
        verdict=Verdict(True, reason or f"promoted by hand by {actor.get_username()}"),
        by_gate=False,
        actor=actor,
        rule=None,
    )


@transaction.atomic
def champion_rollback(*, project, family: str, actor: User, reason: str = "") -> ModelDecision:
    """The champion before the current one serves again."""
    current = Champion.objects.select_for_update().filter(project=project, family=family).first()
    if current is None:
        raise Conflict(
            gettext("This project has no %(family)s champion to roll back.") % {"family": family}
        )
    previous = (
        ModelDecision.objects.filter(
            project=project,
            family=family,
            run=current.run,
            decision__in=[Decision.PROMOTED, Decision.ROLLED_BACK],
            previous__isnull=False,
        )
        .select_related("previous", "previous__snapshot", "previous__project")
        .first()
    )
    if previous is None:
        raise Conflict(gettext("The champion has no earlier champion to roll back to."))
    return _decide(
        run=previous.previous,
        previous=current.run,
        decision=Decision.ROLLED_BACK,
        verdict=Verdict(
            True,
            reason or f"rolled back by hand by {actor.get_username()} from run {current.run_id}",
        ),
        by_gate=False,
        actor=actor,
        rule=None,
    )
