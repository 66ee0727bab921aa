"""Training runs: launch from a project's labels, execute on a training worker, cancel, and recover
from a worker that died. The trainer itself (trainer/) knows nothing of this."""

import logging
import time
import traceback

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.core.heartbeat import Heartbeat
from apps.core.jobs import (
    crash_point,
    is_transient,
    job_cancel,
    job_claim,
    job_end,
    job_enqueue,
    job_fail,
    job_fail_claim,
    job_finishing,
)
from apps.exports.services import snapshot_create
from apps.projects.models import Project
from apps.training.datasets import export_kind_for, split_snapshot
from apps.training.model_choices import (
    model_reference_check,
    referenced_run_ids,
    trainer_config_check,
    trainer_config_resolve,
)
from apps.training.models import RunLogLine, RunMetric, RunStatus, TrainingRun
from apps.training.storage import run_dir, run_model_dir, storage_root  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

MIN_TRAIN_ROWS = 8
MIN_EVAL_ROWS = 2


def objectives_for_project(*, project: Project) -> list[str]:
    """The objectives whose data this project collects."""
    from trainer.registry import objectives

    return [
        name
        for name, spec in objectives.items()
        if export_kind_for(dataset_kind=spec.dataset_kind, project_kind=project.kind)
    ]


def _check_config(objective: str, config: dict) -> dict:
    from trainer.config import parse_config
    from trainer.errors import TrainerError
    from trainer.registry import objectives

    try:
        parse_config(objectives[objective].config_class, config)
    except TrainerError as exc:
        raise ApplicationError(gettext("Invalid training config: %(exc)s") % {"exc": exc}) from None
    return config


def _reward_model_reference(project: Project, run_id: int | None) -> str | None:
    """The reward run chosen to rank or judge a policy's samples, as a reference."""
    if not run_id:
        return None
    return model_reference_check(
        reference=f"run:{run_id}", project=project, family="reward", what="the reward model"
    )


def training_config_validate(
    *,
    project: Project,
    objective: str,
    config: dict | None,
    eval_share: float = 0.2,
    reward_run_id: int | None = None,
    user: User | None = None,
):
    """Checks an objective and its config for the project exactly as a launch does (a training
    rule saves only what a launch would take); returns (spec, export kind, config as stored).
    A policy run with no reward model named is judged by the project's champion reward model.
    With `user`, a policy run may start from a policy run of any project they administer."""
    from trainer.registry import objectives

    if objective not in objectives:
        raise ApplicationError(
            gettext("Unknown objective %(objective)r.") % {"objective": objective}
        )
    spec = objectives[objective]
    export_kind = export_kind_for(dataset_kind=spec.dataset_kind, project_kind=project.kind)
    if export_kind is None:
        raise ApplicationError(
            gettext(
                "%(objective)s trains on %(dataset_kind)s data, which a "
                "%(get_kind_display)s project does not collect; choose one of: "
                "%(values)s."
            )
            % {
                "objective": objective,
                "dataset_kind": spec.dataset_kind,
                "get_kind_display": project.get_kind_display(),
                "values": ", ".join(objectives_for_project(project=project)),
            }
        )
    if not 0.05 <= eval_share <= 0.5:
        raise ApplicationError(gettext("The held-out share must be between 0.05 and 0.5."))
    config = dict(config or {})
    if spec.family == "policy" and not config.get("model"):
        raise ApplicationError(
            gettext(
                "Choose the base model: a policy run of a project you administer, or "
                "one of the offered base models."
            )
        )
    if objective in ONLINE_OBJECTIVES:
        config = _online_rewards(project=project, config=config, reward_run_id=reward_run_id)
    else:
        reward_key = "reward_model" if objective == "raft" else "judge_reward_model"
        if reward_run_id is None and spec.family == "policy" and not config.get(reward_key):
            reward_run_id = _champion_reward_run_id(project)
        reward_model = _reward_model_reference(project, reward_run_id)
        if reward_model:
            if spec.family != "policy":
                raise ApplicationError(gettext("Only policy runs use a trained reward model."))
            config[reward_key] = reward_model
    # The reward-hacking watch's held-out judge (an explicit None in the config opts out).
    if (
        spec.family == "policy"
        and "heldout_judge_reward_model" not in config
        and (heldout := _heldout_judge_reference(project, config))
    ):
        config["heldout_judge_reward_model"] = heldout
    # Models are stored as references and turned into folders on the worker (model_choices.py).
    config = trainer_config_check(project=project, family=spec.family, config=config, user=user)
    _check_config(objective, config)

    return spec, export_kind, config


ONLINE_OBJECTIVES = ("grpo", "rloo")


def _online_rewards(*, project: Project, config: dict, reward_run_id: int | None) -> dict:
    """An online run's reward sources: the reward run chosen (added to `reward_models`), else, when
    the config names no reward at all, the project's champion reward model; checkers must be
    registered ones (an operator registers them in code, see ARBITER_REWARD_CHECKER_MODULES)."""
    from trainer.policy.rewards import registered_checkers

    config = dict(config)
    models = config.get("reward_models") or []
    if not isinstance(models, list):
        raise ApplicationError(gettext("reward_models must be a list of model references."))
    chosen = _reward_model_reference(project, reward_run_id)
    if chosen and chosen not in models:
        models = [chosen, *models]
        weights = config.get("reward_weights")
        if isinstance(weights, list) and weights:
            config["reward_weights"] = [1.0, *weights]
    if not (models or config.get("regex_rewards") or config.get("checkers")):
        champion = _champion_reward_run_id(project)
        if champion:
            models = [_reward_model_reference(project, champion)]
    if models:
        config["reward_models"] = models
    checkers = config.get("checkers") or []
    known = registered_checkers()
    unknown = [name for name in checkers if not isinstance(name, str) or name not in known]
    if unknown:
        raise ApplicationError(
            gettext("Unknown checker %(v0)r; registered checkers: %(value)s.")
            % {"v0": unknown[0], "value": ", ".join(known) or "none"}
        )
    return config


def _heldout_judge_reference(project: Project, config: dict) -> str | None:
    """The reward-hacking watch's held-out judge when none was chosen: the project's most recent
    succeeded reward run other than the reward models the policy trains against or is judged by."""
    used_ids = referenced_run_ids(
        [
            config.get("reward_model"),
            config.get("judge_reward_model"),
            *(config.get("reward_models") or []),
        ]
    )
    run_id = (
        TrainingRun.objects.filter(project=project, family="reward", status=RunStatus.SUCCEEDED)
        .exclude(pk__in=used_ids)
        .order_by(F("finished_at").desc(nulls_last=True), "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return f"run:{run_id}" if run_id else None


def _champion_reward_run_id(project: Project) -> int | None:
    from apps.autopilot.selectors import champion_run_id

    return champion_run_id(project_id=project.pk, family="reward")


@transaction.atomic
def training_run_launch(
    *,
    project: Project,
    user: User,
    objective: str,
    config: dict | None = None,
    eval_share: float = 0.2,
    reward_run_id: int | None = None,
    name: str = "",
    judges_weight: float | None = None,
) -> TrainingRun:
    """Freezes the project's labels as a snapshot, checks that they suit the objective, and
    queues the run on the training queue (once this transaction commits). `judges_weight`: also
    train on the LLM judges' pairs (apps/judges), each row weighted so (people's rows weigh 1);
    None leaves them out."""
    spec, export_kind, config = training_config_validate(
        project=project,
        objective=objective,
        config=config,
        eval_share=eval_share,
        reward_run_id=reward_run_id,
        user=user,
    )
    options = {"split": eval_share, "split_seed": 0}
    if judges_weight is not None:
        options.update(include_judges=True, judges_weight=judges_weight)
    snapshot = snapshot_create(project=project, kind=export_kind, options=options, user=user)
    train_rows, eval_rows = snapshot.row_counts.get("train", 0), snapshot.row_counts.get("test", 0)
    if train_rows < MIN_TRAIN_ROWS or eval_rows < MIN_EVAL_ROWS:
        raise ApplicationError(
            gettext(
                "Too few labels: %(train_rows)s training and %(eval_rows)s held-out "
                "%(export_kind)s rows; a run needs at least %(MIN_TRAIN_ROWS)s and "
                "%(MIN_EVAL_ROWS)s."
            )
            % {
                "train_rows": train_rows,
                "eval_rows": eval_rows,
                "export_kind": export_kind,
                "MIN_TRAIN_ROWS": MIN_TRAIN_ROWS,
                "MIN_EVAL_ROWS": MIN_EVAL_ROWS,
            }
        )
    run = TrainingRun.objects.create(
        project=project,
        name=name or f"{objective} on {snapshot.row_count} rows",
        objective=objective,
        family=spec.family,
        config=config,
        snapshot=snapshot,
        train_rows=train_rows,
        eval_rows=eval_rows,
        created_by=user,
    )
    run.output_dir = f"runs/{run.pk}"
    run.save(update_fields=["output_dir"])
    job_enqueue(run)
    return run


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run ends at once; a running one stops at its next step (cooperative)."""
    return job_cancel(TrainingRun, run.pk)


def run_log(run_id: int, line: str) -> None:
    RunLogLine.objects.create(run_id=run_id, line=line[:10_000])


class _Recorder:
    """The trainer's callbacks: progress and curves into the run's rows, cancellation out."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        # Points up to a checkpoint are saved before it is written: a resumed attempt redoes
        # only the steps after it, so no point of the curve is lost or written twice.
        self.save_steps = 0
        self._last_write = 0.0
        self._last_event = None
        self._points: list[RunMetric] = []

    def on_progress(self, event) -> None:
        if self._last_event is None:
            # A resumed attempt goes on from its checkpoint: the points an earlier attempt
            # recorded past it are recorded again now, so they go (no step twice on a curve).
            RunMetric.objects.filter(run_id=self.run_id, step__gte=event.step).delete()
        self._last_event = event
        if event.loss is not None:
            self._points.append(
                RunMetric(run_id=self.run_id, step=event.step, name="loss", value=event.loss)
            )
        for name, value in (event.metrics or {}).items():
            self._points.append(
                RunMetric(run_id=self.run_id, step=event.step, name=name, value=float(value))
            )
        last = event.step >= event.total_steps
        checkpoint = self.save_steps and event.step % self.save_steps == 0
        if last or checkpoint or time.monotonic() - self._last_write >= 0.5:
            self._flush(event)

    def _flush(self, event) -> None:
        RunMetric.objects.bulk_create(self._points)
        self._points = []
        TrainingRun.objects.filter(pk=self.run_id).update(
            step=event.step,
            total_steps=event.total_steps,
            epoch=event.epoch,
            loss=event.loss,
            eta_seconds=event.eta_seconds,
        )
        self._last_write = time.monotonic()
        crash_point("training.progress_saved")

    def should_stop(self) -> bool:
        """Asked after every step: one primary-key lookup, small beside any real step, so a
        cancel takes effect at the next step after it is requested."""
        stop = TrainingRun.objects.filter(
            pk=self.run_id, cancel_requested_at__isnull=False
        ).exists()
        if stop and self._last_event is not None:
            self._flush(self._last_event)
            run_log(self.run_id, f"Cancel seen after step {self._last_event.step}; stopping.")
        return stop

    def on_log(self, line: str) -> None:
        run_log(self.run_id, line)

    def close(self) -> None:
        RunMetric.objects.bulk_create(self._points)
        self._points = []


def training_run_finished(run: TrainingRun) -> None:
    """After a run's final status commits, however it ended (its worker, a cancel, the reaper):
    tell whoever listens; a new reward model scores the project's tasks (suggestions,
    disagreement, the queue)."""
    from apps.core import events
    from apps.training.tasks import score_tasks

    events.emit(
        events.EventName.RUN_FINISHED,
        project_id=run.project_id,
        payload={
            "run": run.pk,
            "status": run.status,
            "objective": run.objective,
            "snapshot": run.snapshot_id,
        },
    )
    if run.status == RunStatus.SUCCEEDED and run.family == "reward":
        score_tasks.delay(run.pk)


def _fail(claimed: TrainingRun, reason: str, *, log_line: str) -> None:
    with job_finishing(claimed) as run:
        if run is not None:
            run_log(run.pk, log_line)
            job_fail(run, reason)


def _save_steps(objective: str, config: dict) -> int:
    from trainer.config import parse_config
    from trainer.registry import objectives

    parsed = parse_config(objectives[objective].config_class, config)
    return getattr(parsed, "save_steps", 0) or 0


def training_run_execute(*, run_id: int, worker: str) -> None:
    """Trains the run (resuming from its last checkpoint when an earlier worker started it).
    Safe to deliver twice: a finished run, or one a live worker holds, is left alone."""
    from trainer import TrainingCallbacks
    from trainer.errors import TrainerError

    claimed = job_claim(TrainingRun, run_id, worker=worker)
    if claimed is None:
        return
    run = TrainingRun.objects.select_related("snapshot").get(pk=claimed.pk)
    resume = run.attempts > 1
    run_log(run.pk, f"{'Resuming' if resume else 'Starting'} on {worker} (attempt {run.attempts}).")
    recorder = _Recorder(run.pk)
    try:
        with Heartbeat(claimed):
            config = trainer_config_resolve(run=run)
            recorder.save_steps = _save_steps(run.objective, config)
            out = run_dir(run)
            train_path, eval_path, _, _ = split_snapshot(
                snapshot=run.snapshot,
                snapshot_path=storage_root() / run.snapshot.file_path,
                out_dir=out / "data",
            )
            result = _train(
                objective=run.objective,
                config=config,
                train_path=train_path,
                eval_path=eval_path,
                output_dir=out / "output",
                callbacks=TrainingCallbacks(
                    on_progress=recorder.on_progress,
                    should_stop=recorder.should_stop,
                    on_log=recorder.on_log,
                ),
                resume=resume,
            )
            recorder.close()
        crash_point("training.trained")
        _record_result(claimed, result)
    except TrainerError as exc:
        recorder.close()
        _fail(claimed, str(exc), log_line=f"Failed: {exc}")
    except Exception as exc:  # a bug, or a database error: the run still ends, with the reason
        log.exception("Training run %s failed", run.pk)
        if is_transient(exc):  # a lost connection: resumed from its checkpoint if attempts are left
            job_fail_claim(claimed, f"{type(exc).__name__}: {exc}", exc=exc)
            return
        recorder.close()
        _fail(claimed, f"{type(exc).__name__}: {exc}", log_line=traceback.format_exc())


def training_processes() -> int:
    """How many processes train one run on this worker: ARBITER_TRAINING_PROCESSES, where 0 means one per
    GPU the worker sees (1 without GPUs)."""
    wanted = settings.ARBITER_TRAINING_PROCESSES
    if wanted > 0:
        return wanted
    import torch

    return max(1, torch.cuda.device_count())


def _train(*, config: dict, **arguments):
    """trainer.train in this process, or in several under a launcher subprocess (its own process group;
    the main rank's progress and a cancel pass through files, see trainer.launcher)."""
    from trainer import train

    processes = training_processes()
    if processes <= 1:
        return train(config=config, **arguments)
    import torch

    from trainer.launcher import train_in_processes

    return train_in_processes(
        processes=processes,
        config=config,
        cuda=torch.cuda.is_available() and config.get("device", "auto") != "cpu",
        accelerate_config=(
            config.get("accelerate_config") or settings.ARBITER_ACCELERATE_CONFIG or None
        ),
        checker_modules=list(settings.ARBITER_REWARD_CHECKER_MODULES),
        **arguments,
    )


def _record_result(claimed: TrainingRun, result) -> None:
    """The held-out metrics and the final status commit together, or neither does."""
    with job_finishing(claimed) as run:
        if run is None:  # finished meanwhile, or taken over by another worker
            return
        points = [
            RunMetric(run_id=run.pk, step=run.step, name=f"eval/{name}", value=float(value))
            for name, value in result.metrics.items()
            if isinstance(value, int | float)
        ]
        RunMetric.objects.bulk_create(points)
        status = RunStatus.SUCCEEDED if result.status == "succeeded" else RunStatus.CANCELLED
        run_log(run.pk, f"{status.label}. Held-out metrics: {result.metrics}")
        job_end(run, status, metrics=result.metrics, eta_seconds=0)


def policy_run_use_as_chat_backend(*, run: TrainingRun, user: User) -> Project:
    """Makes a succeeded policy run the model that answers in its chat project."""
    from apps.chat.services import chat_backend_configure

    if run.family != "policy" or run.status != RunStatus.SUCCEEDED:
        raise ApplicationError(gettext("Only a succeeded policy run can answer in the chat."))
    return chat_backend_configure(
        project=run.project,
        actor=user,
        config={"type": "transformers", "model": f"run:{run.pk}"},
    )
