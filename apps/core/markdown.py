"""Untrusted text (prompts, model outputs, guidelines) becomes safe HTML here and nowhere else.

Images are never loaded: a prompt-injected reply could otherwise send the conversation to any
server inside an image URL, without a click (the page's Content-Security-Policy blocks remote
images too). An image shows as its alt text, the address in its tooltip.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

_ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "pre",
    "code",
    "blockquote",
    "em",
    "strong",
    "del",
    "a",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}


def _image_as_text(renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "image"
    title = escapeHtml(f"Image not loaded: {token.attrGet('src') or ''}")
    return f'<span class="md-image" title="{title}">[{escapeHtml(alt)}]</span>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # html=False: raw HTML in the source is shown as text, never passed through.
    parser = (
        MarkdownIt("commonmark", {"html": False, "linkify": False})
        .enable("table")
        .enable("strikethrough")
    )
    parser.add_render_rule("image", _image_as_text)
    return parser


def render_markdown(text: str) -> str:
    """Markdown to HTML that cannot run script: raw HTML is escaped, then the result is sanitized."""
    html = _parser().render(text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        allowed_classes={"span": {"md-image"}},
        # Table cells carry their alignment, nothing else (no url(), no positioning).
        filter_style_properties={"text-align"},
    )
