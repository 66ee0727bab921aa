"""Preference pairs (TRL: prompt, chosen, rejected) with the strength as margin, per judgment
or per task; the main phase of pairwise projects, or the hindsight phase of hindsight projects."""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from itertools import chain, groupby, islice
from json.encoder import encode_basestring

from django.db import connection
from django.db.models import TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat

from apps.exports.aggregate import pair_verdict
from apps.exports.datasets import (
    CHUNK_ROWS,
    ExportStats,
    KeyedRow,
    collector_paused,
    completion_value,
    enriched_judgments,
    prompt_values,
    read_ahead,
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
    """The per-judgment pairs export (no aggregate, no judges) as JSON Lines in UTF-8 blocks of
    whole lines, byte for byte what `writers.jsonl_blocks` writes for `_pair_rows`' rows after
    the split, or None for other options. Faster: the judgments come as plain tuples from one
    streaming cursor, each task's prompt and two responses are encoded once into the text
    before and after the margin, and a block is one join of those texts and each judgment's
    own (tests/apps/exports/test_pair_lines.py compares the two)."""
    if options.aggregate != "none" or options.include_judges:
        return None
    queryset = (
        judgments_for_export(project=project)
        .filter(phase=phase)
        .annotate(
            choice=KT("payload__choice"),
            strength=KT("payload__strength"),
            # The line's text after the task's ids: the database writes it as fast as Python.
            ids=Concat(
                Cast("id", TextField()),
                Value(',"annotator_id":', TextField()),
                Coalesce(Cast("annotator_id", TextField()), Value("null", TextField())),
                output_field=TextField(),
            ),
        )
        .order_by(*ORDER)
        .values_list("task_id", "task__prompt_id", "choice", "strength", "ids")
    )
    return _without_collector(_pair_blocks(queryset, options, stats))


# Judgments per block (about 1.1 KB each in the benchmark: blocks of about 280 KB).
BLOCK_JUDGMENTS = 256
# The margin column as writers._float writes a strength step, and "null" without one.
_MARGINS = {name: repr(float(step)) for step, name in enumerate(STRENGTHS, start=1)}


def _pair_blocks(queryset, options: ExportOptions, stats: ExportStats) -> Iterator[bytes]:
    form, skipped, split = options.form, stats.skipped, options.split
    # PostgreSQL writes the responses as JSON strings (its CPU is the less loaded of the two).
    texts_as_json = connection.vendor == "postgresql"
    encode = str if texts_as_json else encode_basestring
    if form == "conversational":
        encode_prompt = _encode
        encode_text = lambda text: f'[{{"content":{encode(text)},"role":"assistant"}}]'  # noqa: E731
    else:
        encode_prompt, encode_text = encode_basestring, encode
    margins = _MARGINS
    rows = test = 0
    last_task = last_prompt = sides = None
    keep, is_test, end = True, False, "}\n"
    # Closed on the way out, whichever way that is: it stops and joins its reader thread.
    with closing(read_ahead(_pair_chunks(queryset, form, texts_as_json))) as chunks:
        for chunk, responses, prompts in chunks:
            for start in range(0, len(chunk), BLOCK_JUDGMENTS):
                pieces: list[str] = []
                for task_id, prompt_id, choice, strength, ids in chunk[
                    start : start + BLOCK_JUDGMENTS
                ]:
                    if task_id != last_task:
                        last_task, pair, sides = task_id, responses.get(task_id, []), None
                        if len(pair) == 2:
                            sides = _task_sides(
                                encode_prompt(prompts[prompt_id]),
                                pair,
                                encode_text,
                                prompt_id,
                                task_id,
                            )
                        if split and prompt_id != last_prompt:
                            last_prompt = prompt_id
                            side = split_side(f"p{prompt_id}", share=split, seed=options.split_seed)
                            keep = options.subset in ("all", side)
                            is_test = side == "test"
                            end = ',"split":"' + side + '"}\n'
                    if sides is None:
                        skipped["not_a_pair"] += 1
                        continue
                    head_tail = sides.get(choice)
                    if head_tail is None:
                        skipped[choice or "unknown"] += 1  # ties and both_bad make no pair
                        continue
                    if not keep:
                        continue
                    rows += 1
                    test += is_test
                    pieces += (head_tail[0], margins.get(strength, "null"), head_tail[1], ids, end)
                if pieces:
                    yield "".join(pieces).encode()
    stats.rows += rows
    if split:
        stats.test += test
        stats.train += rows - test


def _pair_chunks(queryset, form: str, texts_as_json: bool):
    """The judgments' rows in chunks, each with its tasks' responses and prompts."""
    sql, params = queryset.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        with _streaming_plan():
            cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            responses = task_responses({row[0] for row in chunk}, as_json=texts_as_json)
            yield chunk, responses, prompt_values({row[1] for row in chunk}, form=form)


@contextmanager
def _streaming_plan():
    """On PostgreSQL, the cursor declared inside is planned without hash or merge joins: tasks
    in prompt order (an index), each one's judgments by index, sorted a task at a time. The
    same server CPU as the hash join and its sort of every judgment, but the first rows come
    at once instead of after that sort (about 1 s per 1,000,000 judgments), so the server and
    Python work side by side from the start. The settings are put back after the declare,
    which fixes the cursor's plan."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'),"
            " set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
        )
        hashjoin, mergejoin, _, _ = cursor.fetchone()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
                [hashjoin, mergejoin],
            )


def _without_collector(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """`blocks`, each made with the garbage collector paused (datasets.collector_paused); it is
    on again while their consumer runs, unless the reader thread is reading then."""
    try:
        while True:
            with collector_paused:
                block = next(blocks, None)
            if block is None:
                return
            yield block
    finally:
        blocks.close()


def _task_sides(prompt: str, pair, encode_text, prompt_id: int, task_id: int) -> dict:
    """A task's line text before and after the margin, for A chosen and for B chosen; the tail
    ends with the key of the annotator's id, after the judgment's."""
    (a_id, a_text), (b_id, b_text) = pair
    a, b = encode_text(a_text), encode_text(b_text)
    ids = f',"prompt_id":{prompt_id},"task_id":{task_id},"chosen_response_id":'
    return {
        "A": (
            f'{{"prompt":{prompt},"chosen":{a},"rejected":{b},"margin":',
            f'{ids}{a_id},"rejected_response_id":{b_id},"judgment_id":',
        ),
        "B": (
            f'{{"prompt":{prompt},"chosen":{b},"rejected":{a},"margin":',
            f'{ids}{b_id},"rejected_response_id":{a_id},"judgment_id":',
        ),
    }


def pairs_jsonl_lines(project, options, stats):
    return pair_jsonl_lines(project, options, stats, phase=Phase.MAIN)


def hindsight_pairs_jsonl_lines(project, options, stats):
    return pair_jsonl_lines(project, options, stats, phase=Phase.HINDSIGHT)
