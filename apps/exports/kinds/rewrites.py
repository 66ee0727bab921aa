"""What annotators wrote: SFT rows from demonstrations and rewrites (TRL's prompt/completion and
messages forms), and preference pairs in which an annotator's edit beats the response it edited,
with the edit distance as margin."""

from collections.abc import Iterator

from apps.exports.datasets import (
    ExportStats,
    KeyedRow,
    completion_value,
    enriched_judgments,
    text_type,
)
from apps.exports.kinds.common import BASE_FIELDS, ORDER
from apps.exports.options import ExportOptions
from apps.exports.selectors import judgments_for_export
from apps.exports.writers import Column
from apps.projects.models import Project

WRITTEN_FIELDS = (*BASE_FIELDS, "written_response", "edited_response_id", "edit_distance")
ID_COLUMNS = [
    Column("prompt_id", "int"),
    Column("task_id", "int"),
    Column("edited_response_id", "int"),
    Column("judgment_id", "int"),
    Column("annotator_id", "int"),
]


def _written(project: Project, form: str, *, rewrites_only: bool = False):
    """The judgments that carry a written response (a demonstration or a rewrite), with their
    task's responses and prompt."""
    queryset = judgments_for_export(project=project).exclude(written_response="")
    if rewrites_only:
        queryset = queryset.filter(edited_response__isnull=False, edit_distance__isnull=False)
    return enriched_judgments(queryset.order_by(*ORDER), WRITTEN_FIELDS, form=form)


def _origin(edited_response_id: int | None) -> str:
    return "demonstration" if edited_response_id is None else "rewrite"


def build_sft(project: Project, options: ExportOptions, stats: ExportStats):
    """prompt, completion (strings, or messages in the conversational form), origin, ids."""
    form = options.form
    columns = [
        Column("prompt", text_type(form)),
        Column("completion", text_type(form)),
        Column("origin", "str"),
        *ID_COLUMNS,
    ]

    def rows() -> Iterator[KeyedRow]:
        for item in _written(project, form):
            judgment_id, task_id, prompt_id, annotator_id, text, edited_id, _ = item.row
            yield (
                f"p{prompt_id}",
                (
                    item.prompt,
                    completion_value(text, form),
                    _origin(edited_id),
                    prompt_id,
                    task_id,
                    edited_id,
                    judgment_id,
                    annotator_id,
                ),
            )

    return columns, rows()


def build_sft_messages(project: Project, options: ExportOptions, stats: ExportStats):
    """messages (the conversation, then the written answer as the assistant's turn), origin, ids:
    TRL's conversational language-modeling form, whatever the `form` option says."""
    columns = [Column("messages", "messages"), Column("origin", "str"), *ID_COLUMNS]

    def rows() -> Iterator[KeyedRow]:
        for item in _written(project, "conversational"):
            judgment_id, task_id, prompt_id, annotator_id, text, edited_id, _ = item.row
            yield (
                f"p{prompt_id}",
                (
                    [*item.prompt, {"role": "assistant", "content": text}],
                    _origin(edited_id),
                    prompt_id,
                    task_id,
                    edited_id,
                    judgment_id,
                    annotator_id,
                ),
            )

    return columns, rows()


def build_edit_pairs(project: Project, options: ExportOptions, stats: ExportStats):
    """prompt, chosen (the edit), rejected (the response it edited), margin (the word-level
    edit distance, 0 < margin <= 1: how much the annotator changed), ids."""
    form = options.form
    columns = [
        Column("prompt", text_type(form)),
        Column("chosen", text_type(form)),
        Column("rejected", text_type(form)),
        Column("margin", "float"),
        Column("prompt_id", "int"),
        Column("task_id", "int"),
        Column("rejected_response_id", "int"),
        Column("judgment_id", "int"),
        Column("annotator_id", "int"),
    ]

    def rows() -> Iterator[KeyedRow]:
        for item in _written(project, form, rewrites_only=True):
            judgment_id, task_id, prompt_id, annotator_id, text, edited_id, distance = item.row
            original = dict(item.responses).get(edited_id)
            if original is None:
                stats.skipped["edited_response_not_in_task"] += 1
                continue
            yield (
                f"p{prompt_id}",
                (
                    item.prompt,
                    completion_value(text, form),
                    completion_value(original, form),
                    distance,
                    prompt_id,
                    task_id,
                    edited_id,
                    judgment_id,
                    annotator_id,
                ),
            )

    return columns, rows()
