"""Preference pairs (TRL: prompt, chosen, rejected) with the strength as margin, per judgment
or per task; the main phase of pairwise projects, or the hindsight phase of hindsight projects."""

from collections.abc import Iterator
from itertools import chain, groupby, islice
from json.encoder import encode_basestring

from django.db import connection
from django.db.models.fields.json import KT

from apps.exports.aggregate import pair_verdict
from apps.exports.datasets import (
    CHUNK_ROWS,
    ExportStats,
    KeyedRow,
    completion_value,
    enriched_judgments,
    prompt_values,
    split_side,
    task_responses,
    text_type,
)
from apps.exports.kinds.common import BASE_FIELDS, ORDER, per_judgment_columns
from apps.exports.options import ExportOptions
from apps.exports.selectors import judgments_for_export
from apps.exports.writers import Column, _encode
from apps.feedback.models import Phase
from apps.feedback.payloads import STRENGTHS, strength_step
from apps.projects.models import Project


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
        *per_judgment_columns(
            options.aggregate, "votes_chosen", "votes_rejected", "votes_tie", "votes_both_bad"
        ),
    ]
    if options.aggregate != "none":
        # Summed strength steps per side: with the votes, the trainer's soft label (trainer.labels).
        columns += [Column("strength_chosen", "float"), Column("strength_rejected", "float")]
    queryset = (
        judgments_for_export(project=project)
        .filter(phase=phase)
        .annotate(choice=KT("payload__choice"), strength=KT("payload__strength"))
        .order_by(*ORDER)
    )
    stream = enriched_judgments(queryset, (*BASE_FIELDS, "choice", "strength"), form=form)
    if options.aggregate == "none" and options.include_judges:
        # Asked for: the judges' pairs after people's, each row saying whose it is and its weight.
        columns += [Column("source", "str"), Column("weight", "float")]
        people = ((key, (*row, "people", 1.0)) for key, row in _pair_rows(stream, form, stats))
        judges = _judge_rows(project, form, options.judges_weight, stats)
        return columns, chain(people, judges)
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
                _side_strength(items, "AB"[verdict.winner]),
                _side_strength(items, "AB"[1 - verdict.winner]),
            ),
        )


def _judge_rows(project: Project, form: str, weight: float, stats: ExportStats):
    from apps.judges.selectors import judge_pairs_for_export

    verdicts = judge_pairs_for_export(project=project)
    while chunk := list(islice(verdicts, 5000)):
        responses = task_responses({v.task_id for v in chunk})
        prompts = prompt_values({v.prompt_id for v in chunk}, form=form)
        for v in chunk:
            pair = responses.get(v.task_id, [])
            if v.winner is None or len(pair) != 2:
                stats.skipped[v.skip or "not_a_pair"] += 1
                continue
            (win_id, win_text), (lose_id, lose_text) = pair[v.winner], pair[1 - v.winner]
            yield (
                f"p{v.prompt_id}",
                (
                    prompts[v.prompt_id],
                    completion_value(win_text, form),
                    completion_value(lose_text, form),
                    float(v.margin) if v.margin else None,
                    v.prompt_id,
                    v.task_id,
                    win_id,
                    lose_id,
                    None,
                    None,
                    f"judge:{v.judge}",
                    weight,
                ),
            )


def _side_strength(items, side: str) -> float:
    """The summed strength steps of the votes for `side` ("A" or "B"); a vote without a strength counts 1."""
    return float(sum(strength_step(i.row[5]) or 1 for i in items if i.row[4] == side))


def build_pairs(project, options, stats):
    return _pairs(project, options, stats, phase=Phase.MAIN)


def build_hindsight_pairs(project, options, stats):
    return _pairs(project, options, stats, phase=Phase.HINDSIGHT)


def pair_jsonl_lines(project: Project, options: ExportOptions, stats: ExportStats, *, phase: str):
    """The per-judgment pairs export (no aggregate, no judges) as JSON Lines, byte for byte
    what `writers.jsonl_lines` writes for `_pair_rows`' rows after the split, or None for other
    options. Faster: the judgments come as plain tuples from one streaming cursor, each task's
    prompt and two responses are encoded once into the text before and after the margin, and
    a line is one format of the judgment's own values, handed on in pieces of whole lines
    (tests/apps/exports/test_pair_lines.py compares the two)."""
    if options.aggregate != "none" or options.include_judges:
        return None
    queryset = (
        judgments_for_export(project=project)
        .filter(phase=phase)
        .annotate(choice=KT("payload__choice"), strength=KT("payload__strength"))
        .order_by(*ORDER)
        .values_list(*BASE_FIELDS, "choice", "strength")
    )
    return _pair_lines(queryset, options, stats)


# Lines are handed on in pieces of this many (the writer's blocks are about 256 KB).
PIECE_LINES = 128
# The margin column as writers._float writes a strength step, and "null" without one.
_MARGINS = {name: repr(float(step)) for step, name in enumerate(STRENGTHS, start=1)}


def _pair_lines(queryset, options: ExportOptions, stats: ExportStats) -> Iterator[str]:
    form, skipped, split = options.form, stats.skipped, options.split
    if form == "conversational":
        encode_prompt = _encode
        encode_text = lambda text: _encode([{"role": "assistant", "content": text}])  # noqa: E731
    else:
        encode_prompt = encode_text = encode_basestring
    sql, params = queryset.query.sql_with_params()
    lines: list[str] = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        last_task = last_prompt = heads = None
        side = suffix = ""
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            responses = task_responses({row[1] for row in chunk})
            prompts = prompt_values({row[2] for row in chunk}, form=form)
            for judgment_id, task_id, prompt_id, annotator_id, choice, strength in chunk:
                if task_id != last_task:
                    last_task, pair, heads = task_id, responses.get(task_id, []), None
                    if len(pair) == 2:
                        heads = _task_heads(
                            encode_prompt(prompts[prompt_id]), pair, encode_text, prompt_id, task_id
                        )
                if heads is None:
                    skipped["not_a_pair"] += 1
                    continue
                if choice == "A":
                    head, tail = heads[0]
                elif choice == "B":
                    head, tail = heads[1]
                else:
                    skipped[choice or "unknown"] += 1  # ties and both_bad make no pair
                    continue
                if split:
                    if prompt_id != last_prompt:
                        last_prompt = prompt_id
                        side = split_side(f"p{prompt_id}", share=split, seed=options.split_seed)
                        suffix = ',"split":"' + side + '"'
                    if options.subset != "all" and side != options.subset:
                        continue
                    if side == "test":
                        stats.test += 1
                    else:
                        stats.train += 1
                stats.rows += 1
                lines.append(
                    f"{head}{_MARGINS.get(strength, 'null')}{tail}{judgment_id}"
                    f',"annotator_id":{"null" if annotator_id is None else annotator_id}'
                    f"{suffix}}}\n"
                )
                if len(lines) == PIECE_LINES:
                    yield "".join(lines)
                    lines = []
    if lines:
        yield "".join(lines)


def _task_heads(prompt: str, pair, encode_text, prompt_id: int, task_id: int):
    """A task's line text before and after the margin, for A chosen and for B chosen."""
    (a_id, a_text), (b_id, b_text) = pair
    a, b = encode_text(a_text), encode_text(b_text)
    ids = f',"prompt_id":{prompt_id},"task_id":{task_id},"chosen_response_id":'
    return (
        (
            f'{{"prompt":{prompt},"chosen":{a},"rejected":{b},"margin":',
            f'{ids}{a_id},"rejected_response_id":{b_id},"judgment_id":',
        ),
        (
            f'{{"prompt":{prompt},"chosen":{b},"rejected":{a},"margin":',
            f'{ids}{b_id},"rejected_response_id":{a_id},"judgment_id":',
        ),
    )


def pairs_jsonl_lines(project, options, stats):
    return pair_jsonl_lines(project, options, stats, phase=Phase.MAIN)


def hindsight_pairs_jsonl_lines(project, options, stats):
    return pair_jsonl_lines(project, options, stats, phase=Phase.HINDSIGHT)
