"""The generation job's loop: batches of prompts, each sampled from every model and written
with its tasks in one transaction, so that what a failure or a cancel interrupts is kept whole."""

import random
from collections.abc import Callable
from itertools import combinations

from django.db import transaction
from django.db.models import F

from apps.core.text import storable_text
from apps.corpus.models import Prompt, Response
from apps.generation.backends import GenerationBackend, GenerationError
from apps.generation.models import GenerationJob, Pairing
from apps.labeling.services import task_groups_for_prompt, tasks_bulk_create
from apps.projects.models import FeedbackKind, PairStrategy

Backends = list[tuple[dict, GenerationBackend]]


def prompts_done(job: GenerationJob, prompt_ids: list[int] | None = None) -> set[int]:
    """The prompts this job has already written responses for (all of them, or among `ids`)."""
    responses = Response.objects.filter(
        prompt__project_id=job.project_id, metadata__generation_job=job.pk
    )
    if prompt_ids is not None:
        responses = responses.filter(prompt_id__in=prompt_ids)
    return set(responses.values_list("prompt_id", flat=True).distinct())


def run_generation(job: GenerationJob, backends: Backends, *, should_stop: Callable) -> bool:
    """Samples the prompts the job has not written yet. Returns False when stopped by a cancel
    (checked before each batch), True when every prompt is done. Raises GenerationError."""
    done = prompts_done(job)
    todo = [pk for pk in job.item_ids if pk not in done]
    for start in range(0, len(todo), job.batch_size):
        if should_stop():
            return False
        batch_ids = todo[start : start + job.batch_size]
        prompts = list(Prompt.objects.filter(project_id=job.project_id, pk__in=batch_ids))
        replies = []
        for entry, backend in backends:
            try:
                replies.append(
                    backend.generate_batch(
                        [prompt.messages for prompt in prompts],
                        n=job.n_per_prompt,
                        temperature=job.temperature,
                        top_p=job.top_p,
                        max_tokens=job.max_tokens,
                    )
                )
            except GenerationError as exc:
                raise GenerationError(
                    f"{entry['name']}: {exc.reason}", attempts=exc.attempts
                ) from None
        _write_batch(job, backends, prompts, replies, gone=len(batch_ids) - len(prompts))
    return True


def _metadata(job: GenerationJob, entry: dict, sample: int) -> dict:
    metadata = {
        "generation_job": job.pk,
        "temperature": job.temperature,
        "top_p": job.top_p,
        "max_tokens": job.max_tokens,
        "backend": entry["config"]["type"],
        "model": entry["config"]["model"],
        "sample": sample,
    }
    if entry.get("training_run"):
        metadata["training_run"] = entry["training_run"]
    return metadata


@transaction.atomic
def _write_batch(
    job: GenerationJob,
    backends: Backends,
    prompts: list[Prompt],
    replies: list[list[list[str]]],
    *,
    gone: int,
) -> None:
    """Writes the batch's responses and tasks, and advances the job's counters, at once."""
    # The job's row lock serialises two runs of one job (a duplicate delivery): the later one
    # finds the prompts written and skips them.
    GenerationJob.objects.select_for_update().filter(pk=job.pk).first()
    written = prompts_done(job, [prompt.pk for prompt in prompts])
    per_prompt: list[tuple[Prompt, list[Response], list[int]]] = []
    for index, prompt in enumerate(prompts):
        if prompt.pk in written:
            continue
        responses, models = [], []
        for model_index, ((entry, _), model_replies) in enumerate(
            zip(backends, replies, strict=True)
        ):
            for sample, text in enumerate(model_replies[index]):
                responses.append(
                    Response(
                        prompt=prompt,
                        text=storable_text(text),
                        source=entry["name"],
                        metadata=_metadata(job, entry, sample),
                    )
                )
                models.append(model_index)
        per_prompt.append((prompt, responses, models))
    Response.objects.bulk_create(
        [response for _, responses, _ in per_prompt for response in responses], batch_size=1000
    )
    groups, unused = [], 0
    for prompt, responses, models in per_prompt:
        index_groups, left_out = task_groups(job, responses, models, prompt_id=prompt.pk)
        unused += left_out
        groups.append((prompt, responses, index_groups, {"context": {"generation_job": job.pk}}))
    tasks = tasks_bulk_create(project=job.project, prompt_groups=groups)
    GenerationJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(per_prompt) + gone,
        responses_created=F("responses_created")
        + sum(len(responses) for _, responses, _ in per_prompt),
        responses_unused=F("responses_unused") + unused,
        tasks_created=F("tasks_created") + tasks,
    )


def task_groups(
    job: GenerationJob, responses: list[Response], models: list[int], *, prompt_id: int
) -> tuple[list[tuple[int, ...]], int]:
    """Which of a prompt's new responses go together into one task, and how many were left out.

    Empty replies and repeats of an earlier reply's text are stored but left out of tasks (a pair
    of equal answers asks nothing of the annotator). With `pairing` across models, a pair never
    holds two samples of one model. Sampled pairs are reproducible per job and prompt.
    """
    usable, seen = [], set()
    for index, response in enumerate(responses):
        key = response.text.strip()
        if key and key not in seen:
            seen.add(key)
            usable.append(index)
    kind = job.project.kind
    rng = random.Random(f"{job.pk}:{prompt_id}")
    if (
        job.pairing == Pairing.ACROSS_MODELS
        and kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT)
        and len(usable) >= 2
    ):
        pairs = [(a, b) for a, b in combinations(usable, 2) if models[a] != models[b]]
        if job.pair_strategy == PairStrategy.SAMPLED and len(pairs) > job.max_pairs_per_prompt:
            pairs = sorted(rng.sample(pairs, job.max_pairs_per_prompt))
        groups = pairs
    else:
        groups = [
            tuple(usable[i] for i in group)
            for group in task_groups_for_prompt(
                kind=kind,
                n_responses=len(usable),
                strategy=job.pair_strategy,
                limit=job.max_pairs_per_prompt,
                rng=rng,
            )
        ]
    return groups, len(responses) - len(usable)
