from apps.core.markdown import render_markdown


def test_script_tags_are_shown_as_text_not_run():
    html = render_markdown("Hello <script>alert('x')</script>")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_image_with_onerror_handler_is_neutralized():
    html = render_markdown('<img src=x onerror="alert(1)">\n\n![ok](https://example.org/a.png)')
    assert "onerror=" not in html.replace("&lt;img src=x onerror=", "")
    assert '<img src="https://example.org/a.png" alt="ok">' in html


def test_javascript_links_lose_their_href():
    html = render_markdown("[click](javascript:alert(1))")
    assert "javascript:" not in html.split("[click]")[0]
    assert 'href="javascript' not in html


def test_code_blocks_keep_their_content_and_language():
    html = render_markdown("```python\nif a < b:\n    print('<b>')\n```")
    assert '<pre><code class="language-python">' in html
    assert "if a &lt; b:" in html
    assert "print('&lt;b&gt;')" in html
