"""The campaign canvas in a real browser: a marketer builds a 4-activity campaign on the
canvas (Start, Build audience from a saved audience, Email, End), test-runs it, watches
the run page poll until it is done, and reads the row counts on the edges."""

import queue as queue_module
import re
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from apps.audiences import services as audience_services
from tests.browser.waits import idle
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_travel_model,
)

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "orchestrate-screenshots"


@pytest.fixture
def marketer_with_audience(transactional_db):
    """The travel model and a saved audience, made before the browser starts."""
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
        audience_services.audience_create(workspace=workspace, actor=None, name="Benelux and France", definition={
            "entity": "customer", "rule": {"attr": "country", "op": "in", "value": ["NL", "FR"]}})
    return user


@pytest.fixture
def thread_executor(monkeypatch):
    """Stands in for the Celery workers (the test broker is shared): activities dispatched
    after a commit are run by a thread, one by one, a moment apart, so the run page first
    shows the run going on."""
    from apps.campaigns import executor

    pending: queue_module.Queue = queue_module.Queue()
    stop = threading.Event()

    def dispatch(activity_run_id: int) -> None:
        transaction.on_commit(lambda: pending.put(activity_run_id))

    def work():
        try:
            while not stop.is_set():
                try:
                    activity_run_id = pending.get(timeout=0.2)
                except queue_module.Empty:
                    continue
                time.sleep(0.4)
                executor.activity_execute(activity_run_id=activity_run_id)
        finally:
            connection.close()

    monkeypatch.setattr(executor, "DISPATCH", dispatch)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield pending
    stop.set()
    thread.join(timeout=30)


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


def add_after(page, node_id: str, activity: str) -> None:
    from playwright.sync_api import expect

    with page.expect_response(lambda response: f"?node={node_id}" in response.url):
        page.locator(f'svg.canvas [data-node="{node_id}"] a').click()
    expect(page.locator("#side-panel code").first).to_have_text(node_id)
    idle(page)
    form = page.locator("#add-after-form")
    form.get_by_label("Activity to add").select_option(label=activity)
    form.get_by_role("button", name="Add").click()
    expect(page.locator("#editor-notice")).to_have_text(re.compile(rf"^{activity} added after"))


@pytest.mark.browser
def test_marketer_builds_a_campaign_on_the_canvas_and_reads_the_counts_of_a_test_run(
        live_server, marketer_with_audience, thread_executor, browser_page):
    page = browser_page
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(marketer_with_audience.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # an agency owner lands on the agency home, and opens the client from its list
    expect(page).to_have_url(re.compile(rf"{live_server.url}/agency/[^/]+/$"))
    page.locator("#agency-workspaces").get_by_role("link", name="Northwind").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/")

    # a new campaign opens on its canvas with the Start selected
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Campaigns").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/campaigns/")
    page.get_by_label("Name").fill("Spring sale")
    page.get_by_role("button", name="Create and open the canvas").click()
    expect(page.locator("h1")).to_contain_text("Spring sale")
    expect(page.locator("svg.canvas [data-node]")).to_have_count(1)

    # Start -> Build audience (a saved audience) -> Email -> End
    add_after(page, "start", "Build audience")
    expect(page.locator("svg.canvas [data-node]")).to_have_count(2)
    settings = page.locator("#settings-form")
    expect(page.locator("#panel-title")).to_have_text("Build audience")
    expect(page.locator("#panel-builder")).to_have_count(1)  # the rule builder, until an audience is chosen
    settings.get_by_label("A saved audience").select_option(label="Benelux and France (customer)")
    expect(page.locator("#panel-builder")).to_have_count(0)
    settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("#editor-notice")).to_have_text("Settings saved.")
    add_after(page, "build_audience", "Email")
    add_after(page, "email", "End")
    expect(page.locator("svg.canvas [data-node]")).to_have_count(4)
    expect(page.locator("svg.canvas .cv-edge")).to_have_count(3)
    expect(page.locator(".canvas-legend")).to_contain_text("Ready to publish.")
    # undo the End, then add it again
    page.get_by_role("button", name="↶ Undo").click()
    expect(page.locator("#editor-notice")).to_have_text("The last change was undone.")
    expect(page.locator("svg.canvas [data-node]")).to_have_count(3)
    expect(page.locator("svg.canvas .has-problems")).to_have_count(1)
    add_after(page, "email", "End")
    page.locator("#json-view > summary").click()
    expect(page.locator("#json-view textarea")).to_contain_text('"type": "email"')
    shot(page, "campaign-01-canvas")

    # the test run: its page polls until every activity is done
    page.get_by_role("button", name="Test run").click()
    expect(page).to_have_url(re.compile(rf"{live_server.url}/w/northwind/campaigns/runs/\d+/$"))
    expect(page.locator("#run-status[hx-trigger]")).to_have_count(1)
    shot(page, "campaign-02-running")
    expect(page.locator("#run-outcome")).to_have_text("Done", timeout=20_000)
    assert page.locator("#run-status[hx-trigger]").count() == 0  # polling stopped
    canvas = page.locator("#run-status svg.canvas")
    for node_id in ("start", "build_audience", "email", "end"):
        expect(canvas.locator(f'[data-node="{node_id}"]')).to_have_attribute("data-status", "done")
    expect(canvas.locator('[data-edge-label="build_audience.out-email"]')).to_have_text("2")
    expect(canvas.locator('[data-edge-label="email.out-end"]')).to_have_text("2")
    expect(page.locator('#report-email [data-count="recipients"]')).to_have_text("2")
    expect(page.locator("#row-build_audience [data-rows-out]")).to_have_text("2")
    shot(page, "campaign-03-run-done")

    # the list shows the last run and what it reached
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Campaigns").click()
    row = page.locator("#campaigns-table tbody tr").first
    expect(row).to_contain_text("Spring sale")
    expect(row.locator("[data-recipients]")).to_have_text("2")
    shot(page, "campaign-04-list")
