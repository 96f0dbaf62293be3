"""The foundation in a real browser: log in, switch workspace, create an API key (shown
once), see it listed, revoke it. Drives Debian's chromium through Playwright."""

import re
import tempfile
from pathlib import Path

import pytest

from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    WorkspaceFactory,
)

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "orchestrate-screenshots"


@pytest.fixture
def agency_owner(transactional_db):
    """An agency owner with a client workspace in each of two agencies. Made before the
    browser starts: once Playwright's event loop runs, ORM calls from the test would get
    a connection of their own that nobody closes."""
    owner = UserFactory(email="owner@example.test")
    alpha = OrganizationFactory(name="Alpha Agency", slug="alpha")
    beta = OrganizationFactory(name="Beta Agency", slug="beta")
    MembershipFactory(organization=alpha, user=owner, role="owner")
    MembershipFactory(organization=beta, user=owner, role="owner")
    WorkspaceFactory(organization=alpha, name="Northwind", slug="northwind")
    WorkspaceFactory(organization=beta, name="Globex", slug="globex")
    return owner


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_owner_logs_in_switches_workspace_and_manages_an_api_key(live_server, agency_owner, browser_page):
    page = browser_page
    from playwright.sync_api import expect

    # when: logging in through the form
    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, "01-login")
    page.get_by_label("Email address").fill(agency_owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # then: the agency home opens, listing its clients; one click opens a client's workspace
    expect(page).to_have_url(f"{live_server.url}/agency/alpha/")
    clients = page.locator("#agency-workspaces")
    expect(clients.get_by_role("link", name="Northwind")).to_be_visible()
    shot(page, "02-agency-home")
    clients.get_by_role("link", name="Northwind").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/")
    expect(page.get_by_role("heading", name="Northwind")).to_be_visible()
    shot(page, "02-home")

    # when: switching to the other agency's workspace
    switcher = page.locator("#workspace-switcher")
    switcher.locator("summary").click()
    expect(switcher.get_by_text("Beta Agency")).to_be_visible()
    switcher.get_by_role("link", name="Globex").click()
    expect(page).to_have_url(f"{live_server.url}/w/globex/")
    expect(page.get_by_role("heading", name="Globex")).to_be_visible()

    # when: creating an API key
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(f"{live_server.url}/w/globex/api-keys/")
    page.get_by_label("Name").fill("CRM sync")
    page.get_by_label("Role").select_option("marketer")
    page.get_by_role("button", name="Create key").click()
    # then: the secret is shown once, and the key is listed as active
    box = page.locator("#new-api-key")
    expect(box).to_be_visible()
    expect(box).to_contain_text("won't be shown again")
    raw = box.locator("pre code").inner_text().strip()
    assert re.fullmatch(r"orc_[0-9a-f]{8}_[A-Za-z0-9_-]+", raw), raw
    assert page.content().count(raw) == 1
    row = page.locator("#apikeys-table tbody tr", has_text="CRM sync")
    expect(row).to_have_count(1)
    expect(row.locator(".key-status")).to_have_text("active")
    shot(page, "03-key-created")

    # when: revoking it (htmx asks for confirmation)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    # then
    expect(row.locator(".key-status")).to_have_text("revoked")
    expect(page.locator("#new-api-key")).to_have_count(0)
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(page.get_by_text("The key CRM sync was revoked")).to_be_visible()
    assert page.url == f"{live_server.url}/w/globex/api-keys/"  # swapped in place, no reload
    shot(page, "04-key-revoked")


def test_the_csp_check_catches_a_violation(browser_page, live_server):
    """The fixture's check itself: an inline style on a page served with the strict policy
    is reported (the check could otherwise pass by never seeing anything)."""
    from django.conf import settings

    assert "'unsafe-inline'" not in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    browser_page.goto(f"{live_server.url}/accounts/login/")
    browser_page.evaluate("""document.body.insertAdjacentHTML('beforeend', '<p style="color: red">x</p>')""")
    browser_page.wait_for_timeout(200)
    assert len(browser_page.csp_violations) == 1
    assert "style-src" in browser_page.csp_violations[0]
    browser_page.csp_violations.clear()


def test_the_api_docs_render_under_the_content_security_policy(browser_page, live_server):
    browser_page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI builds the page from the schema with its own (file) scripts
    browser_page.wait_for_selector("text=Orchestrate API")
    browser_page.wait_for_selector(".opblock-summary-path >> nth=0")
    csp = browser_page.evaluate("fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
