"""Django's `{# #}` comment ends at the end of its line: one left open prints itself on the page."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPEN_COMMENT = re.compile(r"\{#(?!.*#\}).*$", re.MULTILINE)


def template_files() -> list[Path]:
    return sorted([*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")])


def test_every_short_comment_closes_on_its_own_line():
    open_comments = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in template_files()
        for text in [path.read_text()]
        for match in OPEN_COMMENT.finditer(text)
    ]

    assert template_files() and open_comments == []
