"""One builder per export kind: its columns, and its rows keyed by prompt for the split.

Column names follow TRL where TRL has a format (prompt/chosen/rejected, prompt/completion/label);
ids of the prompt, task, responses and judgment follow, so a row can be traced back.
Skipped judgments are counted in `stats.skipped` by reason, never silently dropped.
"""

from collections.abc import Iterator
from itertools import groupby, islice

from django.db.models.fields.json import KT

from apps.chat.models import Message
from apps.exports.aggregate import binary_majority, mean_ranks, pair_verdict
from apps.exports.datasets import (
    CHUNK_ROWS,
    ExportStats,
    KeyedRow,
    completion_value,
    enriched_judgments,
    prompt_value,
    text_type,
)
from apps.exports.models import ExportKind
from apps.exports.options import ExportOptions
from apps.exports.selectors import judgments_for_export, reactions_for_export
from apps.exports.writers import Column
from apps.feedback.models import Phase
from apps.feedback.payloads import strength_step
from apps.projects.models import FeedbackKind, Principle, Project

ORDER = ("task__prompt_id", "task_id", "id")
BASE_FIELDS = ("id", "task_id", "task__prompt_id", "annotator_id")

# Chat reactions as binary labels (RLUF): love and thumbs up are desirable; thumbs down, anger
# and sadness undesirable; laughter and surprise say nothing about quality and are skipped.
REACTION_LABELS = {
    "love": True,
    "thumbs_up": True,
    "thumbs_down": False,
    "angry": False,
    "sad": False,
}


def _per_judgment_columns(aggregate: str, *votes: str) -> list[Column]:
    if aggregate == "none":
        return [Column("judgment_id", "int"), Column("annotator_id", "int")]
    return [Column("n_judgments", "int"), *(Column(v, "int") for v in votes)]


# ---------------------------------------------------------------- preference pairs


def _pairs(project: Project, options: ExportOptions, stats: ExportStats, *, phase: str):
    form = options.form
    columns = [
        Column("prompt", text_type(form)),
        Column("chosen", text_type(form)),
        Column("rejected", text_type(form)),
        Column("margin", "float"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("chosen_response_id", "int"),
        Column("rejected_response_id", "int"),
        *_per_judgment_columns(
            options.aggregate, "votes_chosen", "votes_rejected", "votes_tie", "votes_both_bad"
        ),
    ]
    queryset = (
        judgments_for_export(project=project)
        .filter(phase=phase)
        .annotate(choice=KT("payload__choice"), strength=KT("payload__strength"))
        .order_by(*ORDER)
    )
    stream = enriched_judgments(queryset, (*BASE_FIELDS, "choice", "strength"), form=form)
    if options.aggregate == "none":
        return columns, _pair_rows(stream, form, stats)
    return columns, _aggregated_pair_rows(stream, form, options.aggregate, stats)


def _pair_rows(stream, form: str, stats: ExportStats) -> Iterator[KeyedRow]:
    for item in stream:
        judgment_id, task_id, prompt_id, annotator_id, choice, strength = item.row
        if len(item.responses) != 2:
            stats.skipped["not_a_pair"] += 1
            continue
        if choice not in ("A", "B"):
            stats.skipped[choice or "unknown"] += 1  # ties and both_bad make no pair
            continue
        (win_id, win_text), (lose_id, lose_text) = (
            item.responses if choice == "A" else item.responses[::-1]
        )
        step = strength_step(strength)
        yield (
            f"p{prompt_id}",
            (
                item.prompt,
                completion_value(win_text, form),
                completion_value(lose_text, form),
                float(step) if step else None,
                prompt_id,
                task_id,
                win_id,
                lose_id,
                judgment_id,
                annotator_id,
            ),
        )


def _aggregated_pair_rows(stream, form: str, method: str, stats: ExportStats):
    for task_id, group in groupby(stream, key=lambda item: item.row[1]):
        items = list(group)
        first = items[0]
        if len(first.responses) != 2:
            stats.skipped["not_a_pair"] += 1
            continue
        verdict = pair_verdict([(i.row[4], i.row[5]) for i in items], method)
        if verdict.winner is None:
            stats.skipped[verdict.skip_reason] += 1
            continue
        win, lose = first.responses[verdict.winner], first.responses[1 - verdict.winner]
        votes = verdict.votes
        prompt_id = first.row[2]
        yield (
            f"p{prompt_id}",
            (
                first.prompt,
                completion_value(win[1], form),
                completion_value(lose[1], form),
                verdict.margin,
                prompt_id,
                task_id,
                win[0],
                lose[0],
                len(items),
                votes["AB"[verdict.winner]],
                votes["AB"[1 - verdict.winner]],
                votes["tie"],
                votes["both_bad"],
            ),
        )


def build_pairs(project, options, stats):
    return _pairs(project, options, stats, phase=Phase.MAIN)


def build_hindsight_pairs(project, options, stats):
    return _pairs(project, options, stats, phase=Phase.HINDSIGHT)


# ---------------------------------------------------------------- unpaired binary and principles


def _payload_stream(project: Project, form: str, *, phase: str = Phase.MAIN):
    queryset = judgments_for_export(project=project).filter(phase=phase).order_by(*ORDER)
    return enriched_judgments(queryset, (*BASE_FIELDS, "payload"), form=form)


def _labels(item) -> Iterator[tuple[int, bool, dict]]:
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


def _thumbs_label_of(item, stats):
    return _labels(item)


def build_unpaired(project, options, stats):
    form, aggregate = options.form, options.aggregate
    if project.kind == FeedbackKind.CHAT:
        return _reaction_rows(project, options, stats, as_labels=True)
    head = [
        Column("prompt", text_type(form)),
        Column("completion", text_type(form)),
        Column("label", "bool"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_id", "int"),
    ]
    tail = _per_judgment_columns(aggregate, "votes_true", "votes_false")
    stream = _payload_stream(project, form)
    if project.kind == FeedbackKind.PRINCIPLES:
        extra = ("principle_key", "principle_version")
        principles = {p.pk: p for p in Principle.objects.filter(project=project)}
        label_of = _principle_verdicts(principles)
        columns = [*head, Column("principle_key", "str"), Column("principle_version", "int"), *tail]
    else:
        extra, label_of, columns = (), _thumbs_label_of, [*head, *tail]
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
        *_per_judgment_columns(aggregate, "votes_yes", "votes_no"),
    ]
    rows = _binary_rows(
        _payload_stream(project, options.form),
        label_of=_principle_verdicts(principles),
        form="standard",
        aggregate=aggregate,
        stats=stats,
        extra_columns=extra,
    )
    return columns, rows


# ---------------------------------------------------------------- listwise


def build_listwise(project, options, stats):
    aggregate = options.aggregate
    columns = [
        Column("prompt", text_type(options.form)),
        Column("responses", "str_list"),
        Column("ranks", "int_list"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_ids", "int_list"),
        *_per_judgment_columns(aggregate),
    ]

    def rows():
        stream = _payload_stream(project, options.form)
        for task_id, group in groupby(stream, key=lambda item: item.row[1]):
            rankings = []
            for item in group:
                ranks = (item.row[4] or {}).get("ranks")
                if not ranks or len(ranks) != len(item.responses):
                    stats.skipped["not_rankable"] += 1
                    continue
                rankings.append((item, ranks))
            if not rankings:
                continue
            first = rankings[0][0]
            texts = [text for _, text in first.responses]
            ids = [response_id for response_id, _ in first.responses]
            if aggregate == "none":
                for item, ranks in rankings:
                    judgment_id, _, prompt_id, annotator_id, _ = item.row
                    yield (
                        f"p{prompt_id}",
                        (
                            item.prompt,
                            texts,
                            ranks,
                            prompt_id,
                            task_id,
                            ids,
                            judgment_id,
                            annotator_id,
                        ),
                    )
            else:
                ranks = mean_ranks([r for _, r in rankings])
                prompt_id = first.row[2]
                yield (
                    f"p{prompt_id}",
                    (first.prompt, texts, ranks, prompt_id, task_id, ids, len(rankings)),
                )

    return columns, rows()


# ---------------------------------------------------------------- hindsight


def build_hindsight(project, options, stats):
    """Both judgments of each (task, annotator) with the consequence shown between them."""
    columns = [
        Column("prompt", text_type(options.form)),
        Column("responses", "str_list"),
        Column("consequence", "str"),
        Column("foresight", "json"),
        Column("hindsight", "json"),
        Column("changed", "bool"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_ids", "int_list"),
        Column("annotator_id", "int"),
        Column("foresight_judgment_id", "int"),
        Column("hindsight_judgment_id", "int"),
        Column("foresight_duration_ms", "int"),
        Column("hindsight_duration_ms", "int"),
        Column("foresight_submitted_at", "str"),
        Column("hindsight_submitted_at", "str"),
    ]
    exported = judgments_for_export(project=project)
    stats.skipped["foresight_only"] = exported.filter(
        phase=Phase.FORESIGHT, next_phase__isnull=True
    ).count()
    queryset = exported.filter(
        phase=Phase.HINDSIGHT, previous__isnull=False, previous__excluded_at__isnull=True
    ).order_by(*ORDER)
    fields = (
        *BASE_FIELDS,
        "payload",
        "previous_id",
        "previous__payload",
        "task__consequence",
        "duration_ms",
        "previous__duration_ms",
        "submitted_at",
        "previous__submitted_at",
    )

    def rows():
        for item in enriched_judgments(queryset, fields, form=options.form):
            (jid, task_id, prompt_id, annotator_id, after, fid, before, consequence) = item.row[:8]
            after_ms, before_ms, after_at, before_at = item.row[8:]
            yield (
                f"p{prompt_id}",
                (
                    item.prompt,
                    [text for _, text in item.responses],
                    consequence,
                    before,
                    after,
                    _verdict(before) != _verdict(after),
                    prompt_id,
                    task_id,
                    [response_id for response_id, _ in item.responses],
                    annotator_id,
                    fid,
                    jid,
                    before_ms,
                    after_ms,
                    before_at.isoformat() if before_at else None,
                    after_at.isoformat() if after_at else None,
                ),
            )

    return columns, rows()


def _verdict(payload: dict | None) -> object:
    payload = payload or {}
    return (payload.get("choice"), payload.get("strength"), payload.get("labels"))


# ---------------------------------------------------------------- chat reactions


def _reaction_rows(project, options, stats, *, as_labels: bool):
    form = options.form
    columns = (
        [
            Column("prompt", text_type(form)),
            Column("completion", text_type(form)),
            Column("label", "bool"),
        ]
        if as_labels
        else [
            Column("conversation", "messages"),
            Column("prompt", text_type(form)),
            Column("completion", text_type(form)),
            Column("reaction", "str"),
        ]
    )
    columns += [
        Column("conversation_id", "int"),
        Column("message_id", "int"),
        Column("reaction_id", "int"),
        *([Column("reaction", "str")] if as_labels else []),
        Column("annotator_id", "int"),
        Column("model_name", "str"),
    ]
    queryset = reactions_for_export(project=project).order_by(
        "message__conversation_id", "message__index", "id"
    )
    fields = (
        "id",
        "message_id",
        "message__conversation_id",
        "message__index",
        "message__content",
        "message__error",
        "message__model_name",
        "user_id",
        "kind",
    )

    def rows():
        stream = queryset.values_list(*fields).iterator(chunk_size=CHUNK_ROWS)
        last_message, context = None, None
        while chunk := list(islice(stream, CHUNK_ROWS)):
            history = _conversations({reaction[2] for reaction in chunk})
            for reaction in chunk:
                rid, mid, cid, index, content, error, model_name, user_id, kind = reaction
                if as_labels and kind not in REACTION_LABELS:
                    stats.skipped[f"reaction_{kind}"] += 1
                    continue
                if error or not content:
                    stats.skipped["failed_message"] += 1
                    continue
                if mid != last_message:
                    earlier = [m for m in history.get(cid, []) if m[0] < index]
                    messages = [{"role": role, "content": text} for _, role, text in earlier]
                    context = (messages, prompt_value(messages, form)) if messages else None
                    last_message = mid
                if context is None:
                    stats.skipped["no_context"] += 1
                    continue
                messages, prompt = context
                head = (
                    (prompt, completion_value(content, form), REACTION_LABELS[kind])
                    if as_labels
                    else (messages, prompt, completion_value(content, form), kind)
                )
                tail = (kind,) if as_labels else ()
                yield (f"c{cid}", (*head, cid, mid, rid, *tail, user_id, model_name))

    return columns, rows()


def _conversations(conversation_ids: set[int]) -> dict[int, list[tuple[int, str, str]]]:
    """(index, role, content) of each conversation's messages in order, without the turns the
    backend failed to answer."""
    by_conversation: dict[int, list[tuple[int, str, str]]] = {}
    messages = (
        Message.objects.filter(conversation_id__in=conversation_ids, error="")
        .order_by("conversation_id", "index")
        .values_list("conversation_id", "index", "role", "content")
    )
    for conversation_id, index, role, content in messages:
        by_conversation.setdefault(conversation_id, []).append((index, role, content))
    return by_conversation


def build_reactions(project, options, stats):
    return _reaction_rows(project, options, stats, as_labels=False)


# ---------------------------------------------------------------- raw judgments


def build_raw(project, options, stats):
    """Every exported judgment as stored: who, when, how long, in which screen order, what."""
    columns = [
        Column("judgment_id", "int"),
        Column("task_id", "int"),
        Column("prompt_id", "int"),
        Column("annotator_id", "int"),
        Column("annotator", "str"),
        Column("kind", "str"),
        Column("phase", "str"),
        Column("previous_judgment_id", "int"),
        Column("source", "str"),
        Column("source_name", "str"),
        Column("started_at", "str"),
        Column("submitted_at", "str"),
        Column("duration_ms", "int"),
        Column("response_ids", "int_list"),
        Column("display_order", "int_list"),
        Column("shown_positions", "int_list"),
        Column("payload", "json"),
        Column("critique", "str"),
    ]
    queryset = judgments_for_export(project=project).order_by(*ORDER)
    fields = (
        *BASE_FIELDS,
        "annotator__username",
        "kind",
        "phase",
        "previous_id",
        "source",
        "source_name",
        "started_at",
        "submitted_at",
        "duration_ms",
        "display_order",
        "payload",
        "critique",
    )

    def rows():
        for item in enriched_judgments(queryset, fields, form=options.form):
            (jid, task_id, prompt_id, annotator_id, username, kind, phase, previous_id) = item.row[
                :8
            ]
            source, source_name, started, submitted, duration, shown, payload, critique = item.row[
                8:
            ]
            ids = [response_id for response_id, _ in item.responses]
            position = {response_id: i for i, response_id in enumerate(ids)}
            shown = list(shown or [])
            yield (
                f"p{prompt_id}",
                (
                    jid,
                    task_id,
                    prompt_id,
                    annotator_id,
                    username,
                    kind,
                    phase,
                    previous_id,
                    source,
                    source_name,
                    started.isoformat() if started else None,
                    submitted.isoformat() if submitted else None,
                    duration,
                    ids,
                    shown,
                    [position.get(response_id, -1) for response_id in shown],
                    payload,
                    critique,
                ),
            )

    return columns, rows()


BUILDERS = {
    ExportKind.PAIRS: build_pairs,
    ExportKind.HINDSIGHT_PAIRS: build_hindsight_pairs,
    ExportKind.UNPAIRED: build_unpaired,
    ExportKind.PRINCIPLES: build_principles,
    ExportKind.LISTWISE: build_listwise,
    ExportKind.HINDSIGHT: build_hindsight,
    ExportKind.REACTIONS: build_reactions,
    ExportKind.RAW: build_raw,
}
