"""The README's pictures, taken from a running demo with Debian's chromium (Playwright):
`bin/demo_check.py --screenshots docs/screenshots` calls `take` once the demo's runs are done."""

import re
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PAIRWISE = "Demo: which answer is better?"
LISTWISE = "Demo: rank the answers"
PRINCIPLES = "Demo: does it follow the principles?"
HINDSIGHT = "Demo: advice, judged in hindsight"


def _signed_in(browser, base: str, username: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _project_path(page, base: str, name: str) -> str:
    page.goto(f"{base}/projects/")
    return page.get_by_role("link", name=name, exact=True).first.get_attribute("href")


def take(*, base: str, out: Path, logins: dict[str, str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []

    def shot(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        written.append(path)
        print(f"screenshot {path}", flush=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        annotator = _signed_in(browser, base, "annotator", logins["annotator"])
        for name, file in (
            (PAIRWISE, "labeling"),
            (LISTWISE, "listwise"),
            (PRINCIPLES, "principles"),
            (HINDSIGHT, "hindsight"),
        ):
            project = _project_path(annotator, base, name)
            annotator.goto(f"{base}{project}label/")
            shot(annotator, file)
        admin = _signed_in(browser, base, "admin", logins["admin"])
        project = _project_path(admin, base, PAIRWISE)
        project_id = re.search(r"\d+", project).group(0)
        admin.goto(f"{base}/projects/{project_id}/dashboard/")
        shot(admin, "dashboard")
        admin.goto(f"{base}/projects/{project_id}/dashboard/leaderboard/")
        shot(admin, "leaderboard")
        admin.goto(f"{base}/projects/{project_id}/runs/")
        run = admin.locator("a[href^='/runs/']").first.get_attribute("href")
        admin.goto(f"{base}{run}")
        admin.wait_for_timeout(1500)  # the curves are drawn by static/js once the page loads
        shot(admin, "run")
        browser.close()
    return written
