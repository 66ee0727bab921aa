"""Text from outside (a model's output) made storable in every database Arbiter runs on."""

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` without NUL (PostgreSQL's text and jsonb refuse it; a sampled byte can be one) and
    with each lone surrogate (JSON's "\\ud800" decodes to one; UTF-8 cannot encode it) replaced
    by U+FFFD. A surrogate pair split in two code points is joined back into its character."""
    text = text.replace("\x00", "")
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
