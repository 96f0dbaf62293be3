"""Browser tests: Playwright's sync API driving Debian's chromium (never a downloaded one)."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in the test thread, and Django refuses ORM
    # calls from a thread with a running loop unless told this is fine (they stay synchronous).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Every Content-Security-Policy violation (the page's or a frame's) is a failure:
        # chromium reports each one as a console error.
        violations: list[str] = []
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.csp_violations = violations
        try:
            yield page
            page.wait_for_timeout(100)  # let the last page's console messages arrive
            assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)
        finally:
            context.close()
            browser.close()
