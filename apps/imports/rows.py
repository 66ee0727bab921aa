"""Parsing and checking one JSONL row of an import. Pure: no database."""

from dataclasses import dataclass, field

from apps.feedback.payloads import InvalidPayload, TaskShape, validate_payload
from apps.imports.lines import RowError, external_id_of, load_object, messages_of
from apps.projects.models import FeedbackKind

__all__ = ["PromptRow", "ResponseRow", "RowError", "parse_row"]
MIN_RESPONSES = {
    FeedbackKind.PAIRWISE: 2,
    FeedbackKind.LISTWISE: 3,
    FeedbackKind.THUMBS: 1,
    FeedbackKind.PRINCIPLES: 1,
    FeedbackKind.HINDSIGHT: 1,
    FeedbackKind.CHAT: 0,
    FeedbackKind.DEMONSTRATION: 0,
}
MAX_LISTWISE_RESPONSES = 8
MAX_SOURCE = 200  # Response.source


@dataclass
class ResponseRow:
    text: str
    source: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class PromptRow:
    line: int
    messages: list[dict]
    responses: list[ResponseRow]
    external_id: str = ""
    metadata: dict = field(default_factory=dict)
    consequence: str = ""
    gold: dict | None = None


def _messages(row: dict) -> list[dict]:
    if "messages" in row:
        messages = messages_of(row["messages"], "messages")
        if messages[-1]["role"] != "user":
            raise RowError("the last message of a prompt must be the user's")
        return messages
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RowError('a row needs a non-empty "prompt" string or a "messages" list')
    return [{"role": "user", "content": prompt}]


def _response(value: object, index: int) -> ResponseRow:
    if isinstance(value, str):
        value = {"text": value}
    if not isinstance(value, dict):
        raise RowError(f'response {index + 1} must be a string or an object with "text"')
    text = value.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowError(f"response {index + 1} has no text")
    source = value.get("model", value.get("source", ""))
    metadata = value.get("metadata", {})
    if not isinstance(source, str) or not isinstance(metadata, dict):
        raise RowError(f'response {index + 1}: "model" must be a string and "metadata" an object')
    if len(source) > MAX_SOURCE:
        raise RowError(f'response {index + 1}: "model" is longer than {MAX_SOURCE} characters')
    consequence = value.get("consequence")
    if consequence is not None:
        if not isinstance(consequence, str):
            raise RowError(f'response {index + 1}: "consequence" must be a string')
        metadata = {**metadata, "consequence": consequence}
    return ResponseRow(text=text, source=source, metadata=metadata)


# A gold answer needs the row to make exactly one task, so that positions are unambiguous.
_GOLD_SIZES = {
    FeedbackKind.PAIRWISE: {2},
    FeedbackKind.LISTWISE: set(range(3, MAX_LISTWISE_RESPONSES + 1)),
    FeedbackKind.THUMBS: {1},
    FeedbackKind.HINDSIGHT: {1, 2},
}


def _gold(row: dict, kind: str, responses: list[ResponseRow]) -> dict | None:
    gold = row.get("gold")
    if gold is None:
        return None
    if len(responses) not in _GOLD_SIZES.get(kind, set()):
        raise RowError(
            f"a gold answer needs a row that makes exactly one {kind} task "
            f"(gold is supported for pairwise with 2 responses, listwise, thumbs with 1, hindsight)"
        )
    shape = TaskShape(response_texts=tuple(r.text for r in responses))
    try:
        return validate_payload(kind=kind, payload=gold, shape=shape)
    except InvalidPayload as exc:
        raise RowError(f"gold answer: {exc.message}") from None


def parse_row(*, line: int, raw: str, kind: str) -> PromptRow:
    """One prompt with its responses, or `RowError` saying what is wrong with the row."""
    row = load_object(raw)
    messages = _messages(row)
    raw_responses = row.get("responses", [])
    if not isinstance(raw_responses, list):
        raise RowError('"responses" must be a list')
    responses = [_response(value, i) for i, value in enumerate(raw_responses)]
    if kind == FeedbackKind.DEMONSTRATION and responses:
        raise RowError(
            "a demonstration project takes prompts only (the annotator writes the response); "
            "import responses into a project of a judging kind"
        )
    needed = MIN_RESPONSES.get(kind, 1)
    # A prompt with no responses at all waits for a generation job to write them.
    if responses and len(responses) < needed:
        raise RowError(
            f"a {kind} project needs at least {needed} responses per prompt, got {len(responses)}"
        )
    if kind == FeedbackKind.LISTWISE and len(responses) > MAX_LISTWISE_RESPONSES:
        raise RowError(
            f"a ranking shows at most {MAX_LISTWISE_RESPONSES} responses, got {len(responses)}"
        )
    if len({r.text for r in responses}) != len(responses):
        raise RowError("two responses of this prompt have the same text")
    external_id = external_id_of(row)
    metadata = row.get("metadata", {})
    consequence = row.get("consequence", "")
    if not isinstance(metadata, dict):
        raise RowError('"metadata" must be an object')
    if not isinstance(consequence, str):
        raise RowError('"consequence" must be a string')
    gold = _gold(row, kind, responses)
    return PromptRow(
        line=line,
        gold=gold,
        messages=messages,
        responses=responses,
        external_id=external_id,
        metadata=metadata,
        consequence=consequence,
    )
