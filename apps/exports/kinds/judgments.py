"""Exports that keep each judgment whole: listwise rankings, hindsight pairs of judgments,
and raw judgments."""

from itertools import groupby

from apps.exports.aggregate import mean_ranks
from apps.exports.datasets import enriched_judgments, text_type
from apps.exports.kinds.common import BASE_FIELDS, ORDER, payload_stream, per_judgment_columns
from apps.exports.selectors import judgments_for_export
from apps.exports.writers import Column
from apps.feedback.models import Phase


def build_listwise(project, options, stats):
    aggregate = options.aggregate
    columns = [
        Column("prompt", text_type(options.form)),
        Column("responses", "str_list"),
        Column("ranks", "int_list"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("response_ids", "int_list"),
        *per_judgment_columns(aggregate),
    ]

    def rows():
        stream = payload_stream(project, options.form)
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
        Column("written_response", "str"),
        Column("edited_response_id", "int"),
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
        "written_response",
        "edited_response_id",
    )

    def rows():
        for item in enriched_judgments(queryset, fields, form=options.form):
            (jid, task_id, prompt_id, annotator_id, username, kind, phase, previous_id) = item.row[
                :8
            ]
            source, source_name, started, submitted, duration, shown, payload, critique = item.row[
                8:16
            ]
            written, edited_id = item.row[16:]
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
                    written,
                    edited_id,
                ),
            )

    return columns, rows()
