"""Binary labels: unpaired rows (TRL: prompt, completion, label) from thumbs judgments or
principle verdicts, and principle rows (RLBFF: prompt, response, principle, verdict)."""

from collections.abc import Iterator
from itertools import groupby

from apps.exports.aggregate import binary_majority
from apps.exports.datasets import completion_value, text_type
from apps.exports.kinds.chat import reaction_rows
from apps.exports.kinds.common import payload_stream, per_judgment_columns
from apps.exports.writers import Column
from apps.projects.models import FeedbackKind, Principle


def _thumbs_labels(item, stats) -> Iterator[tuple[int, bool, dict]]:
    """(position, label, extra) per labelled response of a thumbs judgment."""
    labels = (item.row[4] or {}).get("labels") or []
    for position, label in enumerate(labels):
        yield position, bool(label), {}


def _binary_rows(stream, *, label_of, form: str, aggregate: str, stats, extra_columns):
    """Rows of (prompt, completion, label, ids...) for each (task, position[, principle])
    label, one per judgment or one per task by majority."""
    if aggregate == "none":
        for item in stream:
            judgment_id, task_id, prompt_id, annotator_id, _ = item.row
            for position, label, extra in _labelled(item, label_of, stats):
                response_id, text = item.responses[position]
                yield (
                    f"p{prompt_id}",
                    (
                        item.prompt,
                        completion_value(text, form),
                        label,
                        prompt_id,
                        task_id,
                        response_id,
                        *(extra[c] for c in extra_columns),
                        judgment_id,
                        annotator_id,
                    ),
                )
        return
    for task_id, group in groupby(stream, key=lambda item: item.row[1]):
        items = list(group)
        first = items[0]
        votes: dict[tuple, list[bool]] = {}
        extras: dict[tuple, dict] = {}
        for item in items:
            for position, label, extra in _labelled(item, label_of, stats):
                key = (position, *(extra[c] for c in extra_columns))
                votes.setdefault(key, []).append(label)
                extras[key] = extra
        for key in sorted(votes):
            label = binary_majority(votes[key])
            if label is None:
                stats.skipped["no_majority"] += 1
                continue
            response_id, text = first.responses[key[0]]
            yes = sum(votes[key])
            yield (
                f"p{first.row[2]}",
                (
                    first.prompt,
                    completion_value(text, form),
                    label,
                    first.row[2],
                    task_id,
                    response_id,
                    *(extras[key][c] for c in extra_columns),
                    len(items),
                    yes,
                    len(votes[key]) - yes,
                ),
            )


def _labelled(item, label_of, stats) -> Iterator[tuple[int, bool, dict]]:
    for position, label, extra in label_of(item, stats):
        if not 0 <= position < len(item.responses):
            stats.skipped["unknown_response"] += 1
            continue
        yield position, label, extra


def _principle_verdicts(principles: dict[int, Principle]):
    def label_of(item, stats) -> Iterator[tuple[int, bool, dict]]:
        for verdict in (item.row[4] or {}).get("verdicts") or []:
            if verdict.get("verdict") not in ("yes", "no"):
                stats.skipped["na"] += 1  # "not applicable" is neither a yes nor a no
                continue
            principle = principles.get(verdict.get("principle"))
            if principle is None:
                stats.skipped["unknown_principle"] += 1
                continue
            yield (
                verdict["response"],
                verdict["verdict"] == "yes",
                {
                    "principle": principle.text,
                    "principle_key": principle.key,
                    "principle_version": principle.version,
                    "principle_id": principle.pk,
                    "evidence": verdict.get("evidence") or "",
                },
            )

    return label_of


def build_unpaired(project, options, stats):
    form, aggregate = options.form, options.aggregate
    if project.kind == FeedbackKind.CHAT:
        return reaction_rows(project, options, stats, as_labels=True)
    head = [
        Column("prompt", text_type(form)),
        Column("completion", text_type(form)),
        Column("label", "bool"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_id", "int"),
    ]
    tail = per_judgment_columns(aggregate, "votes_true", "votes_false")
    stream = payload_stream(project, form)
    if project.kind == FeedbackKind.PRINCIPLES:
        extra = ("principle_key", "principle_version")
        principles = {p.pk: p for p in Principle.objects.filter(project=project)}
        label_of = _principle_verdicts(principles)
        columns = [*head, Column("principle_key", "str"), Column("principle_version", "int"), *tail]
    else:
        extra, label_of, columns = (), _thumbs_labels, [*head, *tail]
    rows = _binary_rows(
        stream,
        label_of=label_of,
        form=form,
        aggregate=aggregate,
        stats=stats,
        extra_columns=extra,
    )
    return columns, rows


def build_principles(project, options, stats):
    """RLBFF rows: (prompt, response, principle text of the version answered, verdict yes=True).
    The response is always text; the prompt follows the form."""
    principles = {p.pk: p for p in Principle.objects.filter(project=project)}
    aggregate = options.aggregate
    extra = ("principle", "principle_key", "principle_version", "principle_id")
    if aggregate == "none":
        extra = (*extra, "evidence")
    columns = [
        Column("prompt", text_type(options.form)),
        Column("response", "str"),
        Column("verdict", "bool"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_id", "int"),
        Column("principle", "str"),
        Column("principle_key", "str"),
        Column("principle_version", "int"),
        Column("principle_id", "int"),
        *([Column("evidence", "str")] if aggregate == "none" else []),
        *per_judgment_columns(aggregate, "votes_yes", "votes_no"),
    ]
    rows = _binary_rows(
        payload_stream(project, options.form),
        label_of=_principle_verdicts(principles),
        form="standard",
        aggregate=aggregate,
        stats=stats,
        extra_columns=extra,
    )
    return columns, rows
