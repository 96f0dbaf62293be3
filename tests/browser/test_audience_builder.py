"""The rule builder in a real browser: a marketer builds a two-condition rule (one on an
attribute, one on an aggregate over related bookings), watches the live count follow each
change, saves it, and evaluates it on its page. Drives Debian's chromium through Playwright."""

import re
import tempfile
from pathlib import Path

import pytest
from django.db import connection, transaction

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
def marketer_with_travel_data(transactional_db):
    """Made before the browser starts: once Playwright's event loop runs, ORM calls from
    the test would get a connection nobody closes."""
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
    return user


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_marketer_builds_a_rule_watches_the_count_and_saves_it(live_server, marketer_with_travel_data,
                                                               browser_page):
    page = browser_page
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(marketer_with_travel_data.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # an agency owner lands on the agency home, and opens the client from its list
    expect(page).to_have_url(re.compile(rf"{live_server.url}/agency/[^/]+/$"))
    page.locator("#agency-workspaces").get_by_role("link", name="Northwind").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/")

    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Audiences").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/audiences/")
    page.get_by_role("button", name="New audience").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/audiences/new/")

    # no condition yet: every customer counts
    count = page.locator("#live-count-number")
    expect(count).to_have_text("3")
    expect(page.locator("#rule-entity")).to_have_value("customer")

    # the first condition: country is one of NL, DE
    page.locator(".root-add").get_by_role("button", name="+ Condition").click()
    idle(page)
    first = page.locator("#n-rule-all-0")
    expect(first).to_be_visible()
    expect(page.locator("#live-count .count-waiting")).to_contain_text("condition 1")  # no alarm before typing
    page.locator("#n-rule-all-0-field").select_option("attr:country")
    idle(page)
    page.locator("#n-rule-all-0-op").select_option("in")
    idle(page)
    values = page.locator("textarea#n-rule-all-0-value")  # a list input, once the builder has answered
    expect(values).to_be_visible()
    values.fill("NL, DE")
    values.press("Tab")
    expect(count).to_have_text("2")
    shot(page, "audience-01-one-condition")

    # the second: the sum of the amounts of their bookings is more than 1500
    page.locator("#n-rule").locator(".group-add").get_by_role("button", name="+ Condition").click()
    idle(page)
    expect(page.locator("#n-rule-all-1")).to_be_visible()
    page.locator("#n-rule-all-1-field").select_option("related:bookings")
    idle(page)
    expect(page.locator("#n-rule-all-1-mode")).to_have_value("exists")
    expect(count).to_have_text("2")  # both have bookings
    page.locator("#n-rule-all-1-mode").select_option("sum")
    idle(page)
    expect(page.locator("#n-rule-all-1-agg-attr")).to_have_value("amount")
    page.locator("#n-rule-all-1-op").select_option("gt")
    idle(page)
    amount = page.locator("#n-rule-all-1-value")
    amount.fill("1500")
    amount.press("Tab")
    expect(count).to_have_text("1")
    shot(page, "audience-02-two-conditions")

    # on request: the sample of matching records, the SQL, the counts per condition
    page.get_by_role("button", name="Sample of 20").click()
    expect(page.locator("#sample-table tbody tr")).to_have_count(1)
    expect(page.locator("#sample-table")).to_contain_text("anna@example.test")
    page.get_by_role("button", name="Show SQL").click()
    expect(page.locator("#sql-text")).to_contain_text("GROUP BY")
    page.locator("#n-rule").get_by_role("button", name="Counts").first.click()
    counts = page.locator("#n-rule-counts")
    expect(counts.locator("tr")).to_have_count(3)
    expect(counts.locator("tr.whole td.num")).to_have_text("1")
    shot(page, "audience-03-previews")

    # save it
    page.get_by_label("Name").fill("Big spenders NL/DE")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(rf"{live_server.url}/w/northwind/audiences/\d+/$"))
    expect(page.get_by_text("“Big spenders NL/DE” was created.")).to_be_visible()
    expect(page.locator("#rule-sentences")).to_contain_text("Country is one of NL, DE")
    expect(page.locator("#rule-sentences")).to_contain_text("The sum of Amount of its bookings is more than 1500")
    page.get_by_role("button", name="Evaluate now").click()
    expect(page.locator("#audience-size")).to_have_text("1")
    shot(page, "audience-04-saved")

    # the stored rule, read once the browser is done with the server
    from apps.audiences.models import Audience

    try:
        saved = Audience.objects.get()
        assert (saved.name, saved.size) == ("Big spenders NL/DE", 1)
        assert saved.definition == {"entity": "customer", "rule": {"all": [
            {"attr": "country", "op": "in", "value": ["NL", "DE"]},
            {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt", "value": 1500}]}}
    finally:
        # With Playwright's event loop running, this thread's ORM calls got a connection of
        # their own: close it, or the test database cannot be dropped.
        connection.close()
