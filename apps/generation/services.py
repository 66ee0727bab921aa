"""Generation jobs: sample responses for a project's prompts, or simulate consequences for a
hindsight project's tasks, on a `default` worker, with progress, cooperative cancel, and a rerun
that picks up where the last one stopped.

The backends themselves (apps/generation/backends.py) retry transient failures with backoff;
what they finally refuse fails the job with the reason, and every batch written before stays.
"""

import logging
from contextlib import ExitStack

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.errors import ApplicationError
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
from apps.corpus.models import Prompt
from apps.generation.backends import BackendConfigError, GenerationError, backend_from_config
from apps.generation.consequences import (
    DEFAULT_TEMPLATE,
    check_template,
    consequence_units,
    run_consequences,
)
from apps.generation.job_backends import entry_backend_config, resolve_backends
from apps.generation.models import (
    ConsequenceTarget,
    GenerationJob,
    JobKind,
    Pairing,
    Selection,
)
from apps.generation.sampling import run_generation
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind, PairStrategy, Project

log = logging.getLogger(__name__)

MAX_PER_PROMPT = 16
MAX_BATCH_SIZE = 256
MAX_TOKENS = 32_768
# Responses per prompt below which a kind makes no task at all.
_MIN_RESPONSES = {FeedbackKind.PAIRWISE: 2, FeedbackKind.LISTWISE: 3}


# --- sampling settings and selections -----------------------------------------------------------


def _check_sampling(*, temperature: float, top_p: float, max_tokens: int, batch_size: int) -> None:
    if not 0 <= temperature <= 5:
        raise ApplicationError(_("The temperature must be between 0 and 5."))
    if not 0 < top_p <= 1:
        raise ApplicationError(_("Top-p must be above 0 and at most 1."))
    if not 1 <= max_tokens <= MAX_TOKENS:
        raise ApplicationError(
            _("Max tokens must be between 1 and %(MAX_TOKENS)s.") % {"MAX_TOKENS": MAX_TOKENS}
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ApplicationError(
            _("The batch size must be between 1 and %(MAX_BATCH_SIZE)s.")
            % {"MAX_BATCH_SIZE": MAX_BATCH_SIZE}
        )


def _listed_prompt_ids(project: Project, prompt_ids: list[int] | None) -> list[int]:
    wanted = list(dict.fromkeys(int(pk) for pk in prompt_ids or []))
    if not wanted:
        raise ApplicationError(_("List the prompt ids to use."))
    found = set()
    for start in range(0, len(wanted), 500):
        found.update(
            Prompt.objects.filter(project=project, pk__in=wanted[start : start + 500]).values_list(
                "pk", flat=True
            )
        )
    unknown = [pk for pk in wanted if pk not in found]
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" …" if len(unknown) > 10 else "")
        raise ApplicationError(_("Not prompts of this project: %(shown)s.") % {"shown": shown})
    return wanted


def _selected_prompt_ids(project: Project, selection: str, prompt_ids: list[int] | None):
    if selection == Selection.LISTED:
        return _listed_prompt_ids(project, prompt_ids)
    prompts = Prompt.objects.filter(project=project)
    if selection == Selection.WITHOUT_RESPONSES:
        prompts = prompts.filter(responses__isnull=True)
    elif selection != Selection.ALL:
        raise ApplicationError(
            _("Unknown prompt selection %(selection)r.") % {"selection": selection}
        )
    return list(prompts.order_by("pk").values_list("pk", flat=True))


# --- creating, cancelling, resuming -------------------------------------------------------------


def _enqueue(job: GenerationJob) -> None:
    job_enqueue(job)


@transaction.atomic
def generation_job_create(
    *,
    project: Project,
    user: User,
    backends: list[dict],
    n_per_prompt: int = 2,
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_tokens: int = 256,
    batch_size: int = 8,
    selection: str = Selection.ALL,
    prompt_ids: list[int] | None = None,
    pair_strategy: str | None = None,
    max_pairs_per_prompt: int | None = None,
    pairing: str = Pairing.ALL,
) -> GenerationJob:
    """Freezes the chosen prompts and queues sampling `n_per_prompt` responses from each model
    for each of them; tasks of the project's kind are made from each prompt's new responses."""
    if project.kind == FeedbackKind.CHAT:
        raise ApplicationError(_("Chat projects get their replies live, in the chat."))
    if project.kind == FeedbackKind.DEMONSTRATION:
        raise ApplicationError(
            _("In a demonstration project the annotators write the responses; import prompts only.")
        )
    entries = resolve_backends(project=project, user=user, specs=backends)
    _check_sampling(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, batch_size=batch_size
    )
    if not 1 <= n_per_prompt <= MAX_PER_PROMPT:
        raise ApplicationError(
            _("Responses per prompt must be between 1 and %(MAX_PER_PROMPT)s.")
            % {"MAX_PER_PROMPT": MAX_PER_PROMPT}
        )
    if n_per_prompt > 1 and temperature == 0:
        raise ApplicationError(
            _(
                "At temperature 0 every sample of a model is the same: raise the "
                "temperature, or ask for one response per model."
            )
        )
    per_prompt = n_per_prompt * len(entries)
    needed = _MIN_RESPONSES.get(project.kind, 1)
    if per_prompt < needed:
        raise ApplicationError(
            _(
                "A %(get_kind_display)s project needs at least %(needed)s responses "
                "per prompt; this job makes %(per_prompt)s."
            )
            % {
                "get_kind_display": project.get_kind_display(),
                "needed": needed,
                "per_prompt": per_prompt,
            }
        )
    if pairing not in Pairing.values:
        raise ApplicationError(_("Unknown pairing %(pairing)r.") % {"pairing": pairing})
    if pairing == Pairing.ACROSS_MODELS and len(entries) < 2:
        raise ApplicationError(_("Pairs across models need at least two models."))
    pair_strategy = pair_strategy or project.pair_strategy
    if pair_strategy not in PairStrategy.values:
        raise ApplicationError(
            _("Unknown pair strategy %(pair_strategy)r.") % {"pair_strategy": pair_strategy}
        )
    ids = _selected_prompt_ids(project, selection, prompt_ids)
    if not ids:
        raise ApplicationError(_("No prompt matches this selection."))
    job = GenerationJob.objects.create(
        project=project,
        created_by=user,
        kind=JobKind.GENERATE,
        backends=entries,
        n_per_prompt=n_per_prompt,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        batch_size=batch_size,
        selection=selection,
        item_ids=ids,
        pair_strategy=pair_strategy,
        max_pairs_per_prompt=max_pairs_per_prompt or project.max_pairs_per_prompt,
        pairing=pairing,
        total=len(ids),
    )
    _enqueue(job)
    return job


def _selected_task_ids(project: Project, selection: str, prompt_ids: list[int] | None):
    # A task an annotator has already been shown keeps the consequence it was shown (or will be).
    tasks = Task.objects.filter(project=project).exclude(assignments__isnull=False)
    if selection == Selection.WITHOUT_CONSEQUENCE:
        tasks = tasks.filter(consequence="")
    elif selection == Selection.LISTED:
        tasks = tasks.filter(prompt_id__in=_listed_prompt_ids(project, prompt_ids))
    elif selection != Selection.ALL:
        raise ApplicationError(
            _("Unknown task selection %(selection)r.") % {"selection": selection}
        )
    return list(tasks.order_by("pk").values_list("pk", flat=True).distinct())


@transaction.atomic
def consequence_job_create(
    *,
    project: Project,
    user: User,
    backend: dict,
    template: str | None = None,
    target: str = ConsequenceTarget.RESPONSES,
    selection: str = Selection.WITHOUT_CONSEQUENCE,
    prompt_ids: list[int] | None = None,
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_tokens: int = 200,
    batch_size: int = 8,
) -> GenerationJob:
    """Queues a model writing, from `template`, what plausibly happened after the user acted on
    each response (or each task) of a hindsight project's chosen tasks."""
    if project.kind != FeedbackKind.HINDSIGHT:
        raise ApplicationError(_("Consequences are simulated for hindsight projects only."))
    (entry,) = resolve_backends(project=project, user=user, specs=[backend])
    _check_sampling(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, batch_size=batch_size
    )
    template = DEFAULT_TEMPLATE if template is None else template.strip()
    check_template(template)
    if target not in ConsequenceTarget.values:
        raise ApplicationError(_("Unknown consequence target %(target)r.") % {"target": target})
    task_ids = _selected_task_ids(project, selection, prompt_ids)
    if not task_ids:
        raise ApplicationError(
            _(
                "No task matches this selection (tasks already shown to an annotator "
                "are left as they are)."
            )
        )
    job = GenerationJob(
        project=project,
        created_by=user,
        kind=JobKind.CONSEQUENCES,
        backends=[entry],
        n_per_prompt=1,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        batch_size=batch_size,
        selection=selection,
        item_ids=task_ids,
        target=target,
        template=template,
    )
    job.total = len(consequence_units(job).todo)
    job.save()
    _enqueue(job)
    return job


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """A queued job ends at once; a running one stops after the batch in hand, which is kept."""
    return job_cancel(GenerationJob, job.pk)


def generation_job_resume(*, job: GenerationJob) -> GenerationJob:
    """Queues a failed or cancelled job again, with a new attempt budget; it skips what it
    already wrote."""
    return job_retry(GenerationJob, job.pk)


# --- running ------------------------------------------------------------------------------------


def generation_job_run(*, job_id: int, worker: str) -> GenerationJob:
    """Runs the job to its end: succeeded, cancelled (between batches) or failed with the
    reason. Safe to run twice: a finished job, or one another live worker holds, is left as is;
    a run after a worker died skips what the job already wrote (each batch commits whole)."""
    claimed = job_claim(GenerationJob, job_id, worker=worker)
    if claimed is None:
        return GenerationJob.objects.get(pk=job_id)
    job = GenerationJob.objects.select_related("project").get(pk=claimed.pk)
    try:
        with ExitStack() as stack:
            stack.enter_context(Heartbeat(claimed))
            backends = [
                (
                    entry,
                    stack.enter_context(
                        backend_from_config(entry_backend_config(job=job, entry=entry))
                    ),
                )
                for entry in job.backends
            ]

            def should_stop() -> bool:
                crash_point("generation.between_batches")  # each batch commits whole
                return job_should_stop(claimed)

            if job.kind == JobKind.CONSEQUENCES:
                finished = run_consequences(job, backends[0], should_stop=should_stop)
            else:
                finished = run_generation(job, backends, should_stop=should_stop)
        crash_point("generation.written")
    except GenerationError as exc:
        job_fail_claim(claimed, exc.reason)
    except (BackendConfigError, ApplicationError, ValueError) as exc:
        job_fail_claim(claimed, str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug must still end the job with a reason, never "running"
        log.exception("Generation job %s failed", job.pk)
        job_fail_claim(claimed, f"{type(exc).__name__}: {exc}", exc=exc)
    else:
        with job_finishing(claimed) as locked:
            if locked is not None:
                job_end(locked, JobStatus.SUCCEEDED if finished else JobStatus.CANCELLED)
    return GenerationJob.objects.get(pk=job.pk)
