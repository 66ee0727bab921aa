"""Chat reactions with the conversation before the reacted message (RLUF), as reactions or as
binary labels."""

from itertools import islice

from apps.chat.models import Message
from apps.exports.datasets import CHUNK_ROWS, completion_value, prompt_value, text_type
from apps.exports.selectors import reactions_for_export
from apps.exports.writers import Column

# Chat reactions as binary labels (RLUF): love and thumbs up are desirable; thumbs down, anger
# and sadness undesirable; laughter and surprise say nothing about quality and are skipped.
REACTION_LABELS = {
    "love": True,
    "thumbs_up": True,
    "thumbs_down": False,
    "angry": False,
    "sad": False,
}


def reaction_rows(project, options, stats, *, as_labels: bool):
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
    return reaction_rows(project, options, stats, as_labels=False)
