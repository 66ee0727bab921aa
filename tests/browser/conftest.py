import os

import pytest

SCREENSHOTS = os.environ.get("ARBITER_SCREENSHOTS")  # a folder: tests save screenshots there

# Pages run under a Content-Security-Policy without 'unsafe-eval'. Give page.wait_for_function a
# function ("() => ..."), not an expression: Playwright evals an expression again at every poll,
# which the policy refuses, while it evaluates a function once and calls it.


# `browser` (one chromium for the whole session) lives in tests/conftest.py, so that every folder
# that drives pages shares it: a second sync Playwright in one thread refuses to start.


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})  # a laptop screen
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/projects/")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=False)
