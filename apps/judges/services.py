"""Judges and judge jobs: an admin sets a judge up (backend, templates), a job labels a frozen
list of tasks on a `default` worker, each task in both orders, batch by batch; cancel stops
between batches, a rerun (retry, or a worker that died) picks up after the last batch written.
"""

import logging
from contextlib import ExitStack

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.core.errors import ApplicationError, Conflict, PermissionDenied
from apps.core.heartbeat import Heartbeat
from apps.core.jobs import (
    JobStatus,
    crash_point,
    job_cancel,
    job_claim,
    job_end,
    job_enqueue,
    job_fail_claim,
    job_finishing,
    job_retry,
    job_should_stop,
)
from apps.feedback.facts import signed_strength
from apps.generation.backends import (
    BackendConfigError,
    GenerationError,
    backend_from_config,
    validate_config,
)
from apps.generation.endpoints import callable_config, stored_backend_config
from apps.judges.backends import (
    JudgeRequest,
    JudgeRunner,
    LetterOddsJudge,
    RewardModelJudge,
    TextJudge,
)
from apps.judges.models import Judge, JudgeBackend, JudgeJob, JudgeLabel, Order
from apps.judges.prompts import (
    DEFAULT_TEMPLATES,
    KINDS,
    check_template,
    checked,
    fill,
    judged_kind,
    template_for,
    template_values,
    to_canonical,
)
from apps.labeling.models import Task
from apps.projects.models import RESPONSE_KINDS, FeedbackKind, Project
from apps.projects.selectors import current_principles, user_is_project_admin
from apps.training.model_choices import model_reference_check, model_reference_path

log = logging.getLogger(__name__)

MAX_BATCH = 256
MAX_TOKENS = 4096
JUDGED_KINDS = RESPONSE_KINDS  # kinds whose tasks show responses
_ENDPOINT_KEYS = {"base_url", "api_key", "endpoint", "model", "max_tokens", "timeout"}
_ENDPOINT_KEYS |= {"max_retries", "backoff"}


# --- judges -------------------------------------------------------------------------------------


def _check_admin(*, project: Project, user: User) -> None:
    if not user_is_project_admin(user=user, project=project):
        raise PermissionDenied(gettext("Only the project's admins manage its judges."))


def _judge_config(*, project: Project, user: User, backend: str, config: dict) -> dict:
    """The config as stored: an endpoint's URL and key go to the project's ModelEndpoint row, a
    local model is a checked reference, a reward model a checked `run:` reference (or none: the
    project's champion reward model)."""
    config = {k: v for k, v in (config or {}).items() if v not in (None, "")}
    if backend == JudgeBackend.ENDPOINT:
        unknown = sorted(set(config) - _ENDPOINT_KEYS)
        if unknown:
            raise ApplicationError(
                gettext("Unknown endpoint judge setting(s): %(values)s.")
                % {"values": ", ".join(unknown)}
            )
        return stored_backend_config(
            config={"type": "openai", **config}, project=project, actor=user
        )
    if backend == JudgeBackend.LOCAL:
        unknown = sorted(set(config) - {"model", "device", "max_tokens"})
        if unknown:
            raise ApplicationError(
                gettext("Unknown local judge setting(s): %(values)s.")
                % {"values": ", ".join(unknown)}
            )
        try:
            clean = validate_config({"type": "transformers", **config})
        except BackendConfigError as exc:
            raise ApplicationError(str(exc)) from None
        clean["model"] = model_reference_check(
            reference=clean["model"],
            project=project,
            family="policy",
            what="the judge model",
            adapters=True,
        )
        return clean
    if backend == JudgeBackend.REWARD_MODEL:
        unknown = sorted(set(config) - {"model"})
        if unknown:
            raise ApplicationError(
                gettext("Unknown reward-model judge setting(s): %(values)s.")
                % {"values": ", ".join(unknown)}
            )
        if "model" not in config:
            return {}
        return {
            "model": model_reference_check(
                reference=config["model"], project=project, family="reward", what="the reward model"
            )
        }
    raise ApplicationError(gettext("Unknown judge backend %(backend)r.") % {"backend": backend})


def _templates(templates: dict | None) -> dict:
    """Only templates that differ from the default are stored; each is checked."""
    stored = {}
    for kind, text in (templates or {}).items():
        if kind not in KINDS:
            raise ApplicationError(gettext("Unknown judge kind %(kind)r.") % {"kind": kind})
        text = (text or "").replace("\r\n", "\n")
        if text.strip() and text != DEFAULT_TEMPLATES[kind]:
            stored[kind] = check_template(kind=kind, template=text)
    return stored


def _batch_size(batch_size: int) -> int:
    if not 1 <= int(batch_size) <= MAX_BATCH:
        raise ApplicationError(
            gettext("The batch size must be between 1 and %(MAX_BATCH)s.")
            % {"MAX_BATCH": MAX_BATCH}
        )
    return int(batch_size)


@transaction.atomic
def judge_create(
    *,
    project: Project,
    user: User,
    name: str,
    backend: str,
    config: dict | None = None,
    templates: dict | None = None,
    prelabel: bool = False,
    batch_size: int = 16,
) -> Judge:
    _check_admin(project=project, user=user)
    if project.kind not in JUDGED_KINDS:
        raise ApplicationError(
            gettext("Judges label tasks; a %(get_kind_display)s project has none.")
            % {"get_kind_display": project.get_kind_display()}
        )
    name = (name or "").strip()[:100]
    if not name:
        raise ApplicationError(gettext("A judge needs a name."))
    if Judge.objects.filter(project=project, name=name).exists():
        raise Conflict(gettext("This project already has a judge named %(name)r.") % {"name": name})
    judge = Judge(
        project=project,
        name=name,
        backend=backend,
        config=_judge_config(project=project, user=user, backend=backend, config=config or {}),
        templates=_templates(templates),
        prelabel=bool(prelabel),
        batch_size=_batch_size(batch_size),
        created_by=user,
    )
    try:
        with transaction.atomic():
            judge.save()
    except IntegrityError:
        raise Conflict(
            gettext("This project already has a judge named %(name)r.") % {"name": name}
        ) from None
    return judge


@transaction.atomic
def judge_update(
    *,
    judge: Judge,
    user: User,
    templates: dict | None = None,
    prelabel: bool | None = None,
    batch_size: int | None = None,
) -> Judge:
    """Changes the templates (given kinds only; an empty one goes back to the default), the
    pre-labelling switch and the batch size. Labels already written stay as they are."""
    judge = Judge.objects.select_for_update().get(pk=judge.pk)
    _check_admin(project=judge.project, user=user)
    if templates is not None:
        merged = {**judge.templates}
        for kind, text in templates.items():
            merged.pop(kind, None)
            merged.update(_templates({kind: text}))
        judge.templates = merged
    if prelabel is not None:
        judge.prelabel = bool(prelabel)
    if batch_size is not None:
        judge.batch_size = _batch_size(batch_size)
    judge.save()
    return judge


def judge_delete(*, judge: Judge, user: User) -> None:
    """Forgets the judge and its labels; people's judgments are untouched."""
    _check_admin(project=judge.project, user=user)
    if judge.jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
        raise Conflict(gettext("Cancel the judge's running jobs first."))
    judge.delete()


# --- jobs ---------------------------------------------------------------------------------------


@transaction.atomic
def judge_job_create(
    *,
    judge: Judge,
    user: User,
    task_ids: list[int] | None = None,
    only_unjudged: bool = True,
    batch_size: int | None = None,
) -> JudgeJob:
    """Freezes the tasks to judge (the listed ones, or all the project's; by default only those
    the judge has not labelled yet) and queues the job once this transaction commits."""
    project = judge.project
    _check_admin(project=project, user=user)
    tasks = Task.objects.filter(project=project)
    if task_ids is not None:
        wanted = {int(pk) for pk in task_ids}
        found = set(tasks.filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - found:
            raise ApplicationError(
                gettext("Not tasks of this project: %(values)s.")
                % {"values": ", ".join(map(str, sorted(wanted - found)[:10]))}
            )
        tasks = tasks.filter(pk__in=wanted)
    if only_unjudged:
        tasks = tasks.exclude(judge_labels__judge=judge)
    ids = list(tasks.order_by("pk").values_list("pk", flat=True).distinct())
    if not ids:
        raise ApplicationError(
            gettext("No task to judge: every chosen task has this judge's labels.")
        )
    job = JudgeJob.objects.create(
        project=project,
        judge=judge,
        created_by=user,
        item_ids=ids,
        batch_size=_batch_size(batch_size or judge.batch_size),
        total=len(ids),
    )
    job_enqueue(job)
    return job


def judge_job_cancel(*, job: JudgeJob) -> JudgeJob:
    """A queued job ends at once; a running one stops after the batch in hand, which is kept."""
    return job_cancel(JudgeJob, job.pk)


def judge_job_resume(*, job: JudgeJob) -> JudgeJob:
    """Queues a failed or cancelled job again; it skips the tasks it already judged."""
    return job_retry(JudgeJob, job.pk)


# --- the runner a judge's backend gives ---------------------------------------------------------


def judge_runner_open(*, judge: Judge) -> JudgeRunner:
    """The judge's model, ready: references resolved and keys decrypted now, on the worker.
    Raises BackendConfigError or ApplicationError when it is no longer usable."""
    config = dict(judge.config)
    max_tokens = int(config.get("max_tokens", 64))
    if judge.backend == JudgeBackend.ENDPOINT:
        backend = backend_from_config(callable_config(config, project_id=judge.project_id))
        return TextJudge(backend, max_tokens=max_tokens)
    if judge.backend == JudgeBackend.LOCAL:
        folder = model_reference_path(
            reference=config["model"],
            project=judge.project,
            family="policy",
            what="the judge model",
            adapters=True,
        )
        text = TextJudge(backend_from_config({**config, "model": folder}), max_tokens=max_tokens)
        return LetterOddsJudge(
            model_path=folder, device=config.get("device", "auto"), text_judge=text
        )
    if judge.backend == JudgeBackend.REWARD_MODEL:
        reference = config.get("model")
        if not reference:
            from apps.training.suggestions import champion_reward_run

            run = champion_reward_run(project=judge.project)
            if run is None:
                raise ApplicationError(gettext("The project has no champion reward model yet."))
            reference = f"run:{run.pk}"
        folder = model_reference_path(
            reference=reference, project=judge.project, family="reward", what="the reward model"
        )
        return RewardModelJudge(model_dir=folder)
    raise ApplicationError(
        gettext("Unknown judge backend %(backend)r.") % {"backend": judge.backend}
    )


# --- running ------------------------------------------------------------------------------------


def _orders(size: int) -> list[tuple[str, list[int]]]:
    """Both orders for two or more responses; one response has only one."""
    forward = list(range(size))
    if size < 2:
        return [(Order.FORWARD, forward)]
    return [(Order.FORWARD, forward), (Order.REVERSED, forward[::-1])]


def _todo(job: JudgeJob) -> list[int]:
    """The job's tasks not yet judged by it in every order, in the frozen order."""
    sizes = dict(
        Task.objects.filter(pk__in=job.item_ids)
        .annotate(size=Count("items"))
        .values_list("pk", "size")
    )
    written = dict(
        JudgeLabel.objects.filter(job=job)
        .values("task_id")
        .annotate(n=Count("id"))
        .values_list("task_id", "n")
    )
    return [
        pk for pk in job.item_ids if pk in sizes and written.get(pk, 0) < len(_orders(sizes[pk]))
    ]


def _requests(job: JudgeJob, tasks: list[Task], principles: list) -> list[tuple]:
    """(task, order, display order, kind, texts, request) for each order of each task."""
    judge, project = job.judge, job.project
    out = []
    for task in tasks:
        texts = [item.response.text for item in task.items.all()]
        kind = judged_kind(task_kind=task.kind, size=len(texts))
        if kind == "pairwise" and len(texts) != 2:
            raise ApplicationError(gettext("Task %(pk)s is not a pair.") % {"pk": task.pk})
        template = template_for(judge.templates, kind)
        principle_pairs = [(p.pk, p.text) for p in principles] if kind == "principles" else []
        for order, display in _orders(len(texts)):
            shown = [texts[p] for p in display]
            if kind == "principles":
                # One request per response shown: principle verdicts are per response.
                for k, text in enumerate(shown):
                    values = template_values(
                        kind=kind,
                        messages=task.prompt.messages,
                        guidelines=project.guidelines,
                        shown=[text],
                        principles=principle_pairs,
                    )
                    request = JudgeRequest(
                        kind=kind,
                        text=fill(template, values),
                        messages=task.prompt.messages,
                        shown=[text],
                        principle_ids=tuple(pk for pk, _ in principle_pairs),
                        principle_texts=tuple(words for _, words in principle_pairs),
                    )
                    out.append((task, order, display, kind, texts, request, k))
                continue
            values = template_values(
                kind=kind, messages=task.prompt.messages, guidelines=project.guidelines, shown=shown
            )
            request = JudgeRequest(
                kind=kind, text=fill(template, values), messages=task.prompt.messages, shown=shown
            )
            out.append((task, order, display, kind, texts, request, None))
    return out


def _labels(job: JudgeJob, planned: list[tuple], replies: list, principle_ids: list[int]):
    """The labels of one batch, built from the replies (principle replies merged per order)."""
    grouped: dict[tuple[int, str], dict] = {}
    for (task, order, display, kind, texts, _request, part), reply in zip(
        planned, replies, strict=True
    ):
        entry = grouped.setdefault(
            (task.pk, order),
            {"task": task, "display": display, "kind": kind, "texts": texts, "parts": []},
        )
        entry["parts"].append((part, reply))
    labels, unparsed = [], 0
    for (task_id, order), entry in grouped.items():
        kind, display, texts = entry["kind"], entry["display"], entry["texts"]
        replies = [reply for _, reply in entry["parts"]]
        shown_payload = _merged(kind, entry["parts"])
        payload = None
        if shown_payload is not None:
            payload = checked(
                kind,
                to_canonical(kind, shown_payload, display),
                texts=texts,
                principle_ids=principle_ids,
            )
        unparsed += payload is None
        first_won = None
        strength = None
        if kind == "pairwise" and payload is not None:
            strength = signed_strength(payload)
            if payload["choice"] in ("A", "B"):
                first_won = "AB".index(payload["choice"]) == display[0]
        labels.append(
            JudgeLabel(
                project_id=job.project_id,
                judge_id=job.judge_id,
                task_id=task_id,
                job=job,
                order=order,
                display_order=display,
                payload=payload,
                reply="\n---\n".join(r.reply for r in replies)[:4000],
                signed_strength=strength,
                first_shown_won=first_won,
            )
        )
    return labels, unparsed


def _merged(kind: str, parts: list) -> dict | None:
    """One shown-position payload per order: principle verdicts of each response shown joined."""
    if kind != "principles":
        return parts[0][1].payload
    verdicts = []
    for k, reply in sorted(parts, key=lambda p: p[0]):
        if reply.payload is None:
            return None
        verdicts += [{**v, "response": k} for v in reply.payload["verdicts"]]
    return {"verdicts": verdicts}


def _run(job: JudgeJob, runner: JudgeRunner, *, should_stop) -> bool:
    """Judges what is left, a batch of tasks at a time; False when stopped by a cancel."""
    todo = _todo(job)
    principles = (
        list(current_principles(project=job.project))
        if job.project.kind == FeedbackKind.PRINCIPLES
        else []
    )
    principle_ids = [p.pk for p in principles]
    for start in range(0, len(todo), job.batch_size):
        if should_stop():
            return False
        ids = todo[start : start + job.batch_size]
        tasks = list(
            Task.objects.filter(pk__in=ids)
            .select_related("prompt")
            .prefetch_related("items__response")
            .order_by("pk")
        )
        for task in tasks:
            task.items.all()  # prefetched, in canonical order (TaskItem.Meta.ordering)
        planned = _requests(job, tasks, principles)
        unsupported = {p[3] for p in planned} - set(runner.kinds)
        if unsupported:
            raise ApplicationError(
                gettext("A %(lower)s judge gives no %(values)s verdicts.")
                % {
                    "lower": job.judge.get_backend_display().lower(),
                    "values": ", ".join(sorted(unsupported)),
                }
            )
        replies = runner.judge_batch([p[5] for p in planned])
        labels, unparsed = _labels(job, planned, replies, principle_ids)
        with transaction.atomic():
            # The newest verdict of this judge on a task replaces the older ones.
            JudgeLabel.objects.filter(judge_id=job.judge_id, task_id__in=ids).delete()
            JudgeLabel.objects.bulk_create(labels)
            JudgeJob.objects.filter(pk=job.pk).update(
                done=F("done") + len(tasks),
                labels_written=F("labels_written") + len(labels),
                unparsed=F("unparsed") + unparsed,
            )
        crash_point("judges.batch_written")
    return True


# --- policy evaluation --------------------------------------------------------------------------

MAX_EVAL_PROMPTS = 1000


@transaction.atomic
def judge_policy_eval_create(
    *,
    judge: Judge,
    user: User,
    run_id: int,
    prompts: int = 32,
    max_tokens: int = 64,
    batch_size: int | None = None,
) -> JudgeJob:
    """Queues the judge comparing a succeeded policy run's answers with its base model's on the
    project's first `prompts` prompts (greedy, `max_tokens` each): the policy's win rate against
    its base by this judge, to set beside the reward model's."""
    from apps.corpus.models import Prompt
    from apps.training.models import RunStatus, TrainingRun

    project = judge.project
    _check_admin(project=project, user=user)
    run = TrainingRun.objects.filter(
        pk=run_id, project=project, family="policy", status=RunStatus.SUCCEEDED
    ).first()
    if run is None:
        raise ApplicationError(
            gettext("Run %(run_id)s is not a succeeded policy run of this project.")
            % {"run_id": run_id}
        )
    base = (run.config or {}).get("model")
    if not base:
        raise ApplicationError(
            gettext("Run %(pk)s names no base model to compare it with.") % {"pk": run.pk}
        )
    model_reference_check(
        reference=base, project=project, family="policy", what="the run's base model", adapters=True
    )
    if not 1 <= int(prompts) <= MAX_EVAL_PROMPTS:
        raise ApplicationError(
            gettext("Evaluate on 1 to %(MAX_EVAL_PROMPTS)s prompts.")
            % {"MAX_EVAL_PROMPTS": MAX_EVAL_PROMPTS}
        )
    if not 1 <= int(max_tokens) <= MAX_TOKENS:
        raise ApplicationError(
            gettext("Max tokens must be between 1 and %(MAX_TOKENS)s.") % {"MAX_TOKENS": MAX_TOKENS}
        )
    ids = list(
        Prompt.objects.filter(project=project)
        .order_by("pk")
        .values_list("pk", flat=True)[: int(prompts)]
    )
    if not ids:
        raise ApplicationError(gettext("The project has no prompts to evaluate the policy on."))
    job = JudgeJob.objects.create(
        project=project,
        judge=judge,
        created_by=user,
        policy_run=run,
        item_ids=ids,
        batch_size=_batch_size(batch_size or judge.batch_size),
        total=len(ids),
        results={"max_tokens": int(max_tokens), "base_model": base, "outcomes": {}},
    )
    job_enqueue(job)
    return job


def policy_score(payloads: list[dict | None]) -> float:
    """One prompt's score for the policy (canonical A) against its base (B): 1 when both orders
    prefer the policy, 0 when both prefer the base, 0.5 otherwise (a tie, both bad, orders that
    disagree, or a reply without a verdict)."""
    choices = {(p or {}).get("choice") for p in payloads}
    if len(payloads) == 2 and choices == {"A"}:
        return 1.0
    if len(payloads) == 2 and choices == {"B"}:
        return 0.0
    return 0.5


def _eval_summary(outcomes: dict[str, float]) -> dict:
    scores = list(outcomes.values())
    return {
        "n": len(scores),
        "wins": sum(s == 1.0 for s in scores),
        "losses": sum(s == 0.0 for s in scores),
        "ties": sum(s == 0.5 for s in scores),
        "win_rate": sum(scores) / len(scores) if scores else None,
    }


def _run_policy_eval(job: JudgeJob, runner: JudgeRunner, *, should_stop) -> bool:
    from apps.corpus.models import Prompt

    project, run = job.project, job.policy_run
    folders = [
        model_reference_path(
            reference=reference, project=project, family="policy", what=what, adapters=True
        )
        for reference, what in (
            (f"run:{run.pk}", "the policy"),
            (job.results["base_model"], "the run's base model"),
        )
    ]
    template = template_for(job.judge.templates, "pairwise")
    max_tokens = int(job.results.get("max_tokens", 64))
    outcomes = dict(job.results.get("outcomes", {}))
    todo = [pk for pk in job.item_ids if str(pk) not in outcomes]
    with ExitStack() as stack:
        policy, base = (
            stack.enter_context(
                backend_from_config({"type": "transformers", "model": folder, "device": "auto"})
            )
            for folder in folders
        )
        for start in range(0, len(todo), job.batch_size):
            if should_stop():
                return False
            prompts = list(
                Prompt.objects.filter(pk__in=todo[start : start + job.batch_size]).order_by("pk")
            )
            conversations = [p.messages for p in prompts]
            answers = [
                model.generate_batch(conversations, n=1, temperature=0.0, max_tokens=max_tokens)
                for model in (policy, base)
            ]
            planned = []
            for prompt, mine, theirs in zip(prompts, *answers, strict=True):
                texts = [mine[0], theirs[0]]  # A: the policy, B: its base
                for display in ([0, 1], [1, 0]):
                    shown = [texts[k] for k in display]
                    values = template_values(
                        kind="pairwise",
                        messages=prompt.messages,
                        guidelines=project.guidelines,
                        shown=shown,
                    )
                    request = JudgeRequest(
                        kind="pairwise",
                        text=fill(template, values),
                        messages=prompt.messages,
                        shown=shown,
                    )
                    planned.append((prompt.pk, display, request))
            replies = runner.judge_batch([request for *_, request in planned])
            per_prompt: dict[int, list] = {}
            for (pk, display, _), reply in zip(planned, replies, strict=True):
                payload = reply.payload and to_canonical("pairwise", reply.payload, display)
                per_prompt.setdefault(pk, []).append(payload)
            outcomes.update({str(pk): policy_score(p) for pk, p in per_prompt.items()})
            results = {**job.results, "outcomes": outcomes, **_eval_summary(outcomes)}
            JudgeJob.objects.filter(pk=job.pk).update(done=len(outcomes), results=results)
            job.results = results
            crash_point("judges.batch_written")
    return True


def judge_job_run(*, job_id: int, worker: str) -> JudgeJob:
    """Runs the job to its end: succeeded, cancelled (between batches) or failed with the reason.
    Safe to run twice: a finished job, or one another live worker holds, is left as is; a run
    after a worker died skips the tasks already judged in both orders (each batch commits whole)."""
    claimed = job_claim(JudgeJob, job_id, worker=worker)
    if claimed is None:
        return JudgeJob.objects.get(pk=job_id)
    job = JudgeJob.objects.select_related("project", "judge", "policy_run").get(pk=claimed.pk)
    try:
        with ExitStack() as stack:
            stack.enter_context(Heartbeat(claimed))
            runner = stack.enter_context(judge_runner_open(judge=job.judge))

            def should_stop() -> bool:
                crash_point("judges.between_batches")
                return job_should_stop(claimed)

            if job.policy_run_id:
                finished = _run_policy_eval(job, runner, should_stop=should_stop)
            else:
                finished = _run(job, runner, should_stop=should_stop)
    except GenerationError as exc:
        job_fail_claim(claimed, exc.reason)
    except (BackendConfigError, ApplicationError) as exc:
        job_fail_claim(claimed, getattr(exc, "message", "") or str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug must still end the job with a reason, never "running"
        log.exception("Judge job %s failed", job.pk)
        job_fail_claim(claimed, f"{type(exc).__name__}: {exc}", exc=exc)
    else:
        with job_finishing(claimed) as locked:
            if locked is not None:
                job_end(locked, JobStatus.SUCCEEDED if finished else JobStatus.CANCELLED)
    return JudgeJob.objects.get(pk=job.pk)
