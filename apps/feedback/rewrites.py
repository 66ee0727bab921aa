"""An annotator's own response: an edit of a shown response (rewrite mode) or a demonstration
written from scratch. Checked and measured here; pure, no database."""

import re

from rapidfuzz.distance import Levenshtein

from apps.core.errors import ApplicationError
from apps.core.text import storable_text

# A response an annotator writes is at most this long (characters): a long answer fits, a pasted
# document does not. The textarea carries the same limit.
MAX_WRITTEN_CHARS = 20_000

_WORD = re.compile(r"\S+")


class InvalidWrittenResponse(ApplicationError):
    status = 400


def words(text: str) -> list[str]:
    """The text's words: maximal runs of non-space characters (punctuation stays on its word)."""
    return _WORD.findall(text)


def word_edit_distance(original: str, edited: str) -> float:
    """Word-level Levenshtein distance (insertions, deletions and substitutions of whole words)
    over the longer text's word count: 0.0 when the words are the same, 1.0 when no word is kept
    in place. Two empty texts are 0.0 apart."""
    a, b = words(original), words(edited)
    longest = max(len(a), len(b))
    if longest == 0:
        return 0.0
    return Levenshtein.distance(a, b) / longest


def written_response_clean(text: object, *, what: str) -> str:
    """The text as stored: storable (no NUL, no lone surrogate), outer whitespace trimmed, at
    most MAX_WRITTEN_CHARS; "" when nothing was written."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidWrittenResponse(f"The {what} must be text.")
    text = storable_text(text).strip()
    if len(text) > MAX_WRITTEN_CHARS:
        raise InvalidWrittenResponse(
            f"The {what} is {len(text):,} characters long; at most {MAX_WRITTEN_CHARS:,} are taken."
        )
    return text
