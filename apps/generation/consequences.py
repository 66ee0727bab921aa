"""Consequence simulation for hindsight projects: a model writes, from an editable template, what
plausibly happened after the user acted on a response. Per-response consequences go to
Response.metadata["consequence"] (the labeling page shows each under its response in the
hindsight phase); a task's consequence (Task.consequence, "What happened next") is written
directly in per-task mode, or put together from its responses' consequences."""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Prefetch
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.core.text import storable_text
from apps.corpus.models import Response
from apps.generation.backends import GenerationBackend, GenerationError
from apps.generation.models import ConsequenceTarget, GenerationJob, Selection
from apps.labeling.models import Task, TaskItem

DEFAULT_TEMPLATE = """A user asked an AI assistant:

{prompt}

The assistant answered:

{response}

The user trusted this answer and acted on it. In two to four sentences, describe concretely and \
plausibly what happened to the user afterwards: what they did, what resulted, and any cost, harm \
or benefit. Write only the outcome, in the past tense, without judging the answer."""

MAX_TEMPLATE_LENGTH = 20_000
_PLACEHOLDER = re.compile(r"\{(prompt|response)\}")
_CHUNK = 500  # ids per query: SQLite caps the parameters of one statement


def check_template(template: str) -> None:
    if "{response}" not in template:
        raise ApplicationError(_("The template must hold {response}, where the answer goes."))
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ApplicationError(
            _("The template is longer than %(MAX_TEMPLATE_LENGTH)s characters.")
            % {"MAX_TEMPLATE_LENGTH": MAX_TEMPLATE_LENGTH}
        )


def prompt_text(messages: list[dict]) -> str:
    """A prompt as plain text: a single turn as it is, a conversation as one line per turn."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def render_template(template: str, *, messages: list[dict], response: str) -> str:
    """The template with {prompt} and {response} filled in, in one pass (so a `{response}`
    inside the prompt's own text stays as it is), every other brace left alone."""
    values = {"prompt": prompt_text(messages), "response": response}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _chunks(ids: list[int], size: int = _CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@dataclass
class Units:
    """What a consequence job writes: response ids or task ids, those still to do, and how many
    this job already wrote. For responses, `tasks_of` maps each to its selected tasks."""

    todo: list[int]
    done: int
    tasks_of: dict[int, list[int]] = field(default_factory=dict)


def consequence_units(job: GenerationJob) -> Units:
    task_ids = job.item_ids
    if job.target == ConsequenceTarget.TASKS:
        done = set()
        if job.pk:
            for chunk in _chunks(task_ids):
                done.update(
                    Task.objects.filter(pk__in=chunk, context__consequence_job=job.pk).values_list(
                        "pk", flat=True
                    )
                )
        return Units(todo=[pk for pk in task_ids if pk not in done], done=len(done))
    tasks_of: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(task_ids):
        for task_id, response_id in TaskItem.objects.filter(task_id__in=chunk).values_list(
            "task_id", "response_id"
        ):
            tasks_of[response_id].append(task_id)
    response_ids = sorted(tasks_of)
    done, existing, shown = set(), set(), set()
    for chunk in _chunks(response_ids):
        for pk, metadata in Response.objects.filter(pk__in=chunk).values_list("pk", "metadata"):
            if job.pk and metadata.get("consequence_job") == job.pk:
                done.add(pk)
            elif metadata.get("consequence"):
                existing.add(pk)
        # A response that an annotator has seen in some task keeps the consequence it has.
        shown.update(
            TaskItem.objects.filter(
                response_id__in=chunk, task__assignments__isnull=False
            ).values_list("response_id", flat=True)
        )
    keep_existing = job.selection != Selection.ALL
    todo = [
        pk
        for pk in response_ids
        if pk not in done and pk not in shown and not (keep_existing and pk in existing)
    ]
    return Units(todo=todo, done=len(done), tasks_of=dict(tasks_of))


def _snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_consequence(responses: list[Response]) -> str:
    """A task's consequence from its responses' own: the one, or each after the answer it
    followed (named by its opening words: screen sides are shuffled per annotator)."""
    if len(responses) == 1:
        return responses[0].metadata["consequence"]
    return "\n\n".join(
        f"**After the answer that begins “{_snippet(r.text)}”:** {r.metadata['consequence']}"
        for r in responses
    )


def fill_tasks(job: GenerationJob, task_ids: Iterable[int], *, only_empty: bool = False) -> int:
    """Sets the consequence of each task whose responses all have one, unless an annotator has
    been shown the task. Returns how many tasks got theirs from this job for the first time."""
    filled = 0
    for chunk in _chunks(sorted(set(task_ids))):
        tasks = Task.objects.filter(pk__in=chunk).exclude(assignments__isnull=False)
        if only_empty:
            tasks = tasks.filter(consequence="")
        tasks = tasks.prefetch_related(
            Prefetch("items", TaskItem.objects.select_related("response").order_by("position"))
        )
        changed = []
        for task in tasks:
            responses = [item.response for item in task.items.all()]
            if not responses or not all(r.metadata.get("consequence") for r in responses):
                continue
            filled += task.context.get("consequence_job") != job.pk
            task.consequence = task_consequence(responses)
            task.context = {**task.context, "consequence_job": job.pk}
            changed.append(task)
        Task.objects.bulk_update(changed, ["consequence", "context"])
    return filled


def _task_responses_text(task: Task) -> str:
    texts = [item.response.text for item in task.items.all()]
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"Response {chr(65 + i)}:\n{text}" for i, text in enumerate(texts))


def _generate(job: GenerationJob, entry: dict, backend: GenerationBackend, prompts: list[str]):
    try:
        replies = backend.generate_batch(
            [[{"role": "user", "content": prompt}] for prompt in prompts],
            n=1,
            temperature=job.temperature,
            top_p=job.top_p,
            max_tokens=job.max_tokens,
        )
    except GenerationError as exc:
        raise GenerationError(f"{entry['name']}: {exc.reason}", attempts=exc.attempts) from None
    return [storable_text(reply[0]).strip() for reply in replies]


def run_consequences(
    job: GenerationJob, backend: tuple[dict, GenerationBackend], *, should_stop: Callable
) -> bool:
    """Writes the consequences the job has not written yet, a batch at a time. Returns False
    when stopped by a cancel (checked before each batch). Raises GenerationError."""
    entry, model = backend
    units = consequence_units(job)
    GenerationJob.objects.filter(pk=job.pk).update(total=units.done + len(units.todo))
    if job.target == ConsequenceTarget.RESPONSES:
        # Tasks whose responses all had a consequence already need nothing generated.
        filled = fill_tasks(job, job.item_ids, only_empty=True)
        GenerationJob.objects.filter(pk=job.pk).update(tasks_updated=F("tasks_updated") + filled)
    for chunk in _chunks(units.todo, job.batch_size):
        if should_stop():
            return False
        if job.target == ConsequenceTarget.RESPONSES:
            responses = list(Response.objects.filter(pk__in=chunk).select_related("prompt"))
            prompts = [
                render_template(job.template, messages=r.prompt.messages, response=r.text)
                for r in responses
            ]
            replies = _generate(job, entry, model, prompts)
            written = dict(zip([r.pk for r in responses], replies, strict=True))
            _write_responses(job, entry, chunk, written, units.tasks_of)
        else:
            tasks = list(
                Task.objects.filter(pk__in=chunk)
                .select_related("prompt")
                .prefetch_related(
                    Prefetch(
                        "items", TaskItem.objects.select_related("response").order_by("position")
                    )
                )
            )
            prompts = [
                render_template(
                    job.template, messages=t.prompt.messages, response=_task_responses_text(t)
                )
                for t in tasks
            ]
            replies = _generate(job, entry, model, prompts)
            written = dict(zip([t.pk for t in tasks], replies, strict=True))
            _write_tasks(job, entry, chunk, written)
    return True


@transaction.atomic
def _write_responses(
    job: GenerationJob,
    entry: dict,
    chunk: list[int],
    written: dict[int, str],
    tasks_of: dict[int, list[int]],
) -> None:
    GenerationJob.objects.select_for_update().filter(pk=job.pk).first()  # one run at a time
    changed, already = [], 0
    for response in Response.objects.filter(pk__in=list(written)).only("pk", "metadata"):
        if response.metadata.get("consequence_job") == job.pk:
            already += 1  # a duplicate run of this job wrote it first
            continue
        response.metadata = {
            **response.metadata,
            "consequence": written[response.pk],
            "consequence_job": job.pk,
            "consequence_model": entry["name"],
        }
        changed.append(response)
    Response.objects.bulk_update(changed, ["metadata"])
    filled = fill_tasks(job, [t for r in changed for t in tasks_of.get(r.pk, [])])
    GenerationJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(chunk) - already,
        consequences_written=F("consequences_written") + len(changed),
        tasks_updated=F("tasks_updated") + filled,
    )


@transaction.atomic
def _write_tasks(job: GenerationJob, entry: dict, chunk: list[int], written: dict[int, str]):
    GenerationJob.objects.select_for_update().filter(pk=job.pk).first()  # one run at a time
    changed, already = [], 0
    # A task shown to an annotator since the job was made keeps its consequence.
    fresh = Task.objects.filter(pk__in=list(written)).exclude(assignments__isnull=False)
    for task in fresh.only("pk", "context", "consequence"):
        if task.context.get("consequence_job") == job.pk:
            already += 1
            continue
        task.consequence = written[task.pk]
        task.context = {
            **task.context,
            "consequence_job": job.pk,
            "consequence_model": entry["name"],
        }
        changed.append(task)
    Task.objects.bulk_update(changed, ["consequence", "context"])
    GenerationJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(chunk) - already,
        consequences_written=F("consequences_written") + len(changed),
        tasks_updated=F("tasks_updated") + len(changed),
    )
