"""The canvas panels in a real browser, driven as a marketer: Build audience with the
audience builder and its live count, Split subsets (a rule, the top N by an attribute),
Deduplicate's attribute pickers, Wait, Save audience and the empty-audience choice; what
each saves is read back from the draft. Screenshots of the canvas go to test-results/."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from apps.campaigns import services
from tests.browser.waits import idle
from tests.campaigns.test_panels import DRAFT
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_travel_model,
)

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-results" / "canvas-panels"


@pytest.fixture
def draft(transactional_db):
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="marketer@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
        campaign = services.campaign_create(workspace=workspace, actor=None, name="Spring")
        # the panels' draft with an Enrichment between the Wait and the Save audience
        nodes = DRAFT["nodes"][:5] + [{"id": "enrich", "type": "enrichment", "settings": {}}] + DRAFT["nodes"][5:]
        edges = [e for e in DRAFT["edges"] if e["from"] != "pause"] + [
            {"from": "pause", "outlet": "out", "to": "enrich"}, {"from": "enrich", "outlet": "out", "to": "keep"}]
        services.draft_save(workspace=workspace, actor=None, campaign=campaign,
                            definition={"nodes": nodes, "edges": edges})
    return user, campaign


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def saved(campaign, node_id):
    return next(n for n in services.latest_version(campaign).definition["nodes"] if n["id"] == node_id)["settings"]


def open_panel(page, node_id):
    from playwright.sync_api import expect

    with page.expect_response(lambda response: f"?node={node_id}" in response.url):
        page.locator(f'svg.canvas [data-node="{node_id}"] a').click()
    expect(page.locator("#side-panel code").first).to_have_text(node_id)
    idle(page)


def save(page):
    from playwright.sync_api import expect

    page.locator("#settings-form").get_by_role("button", name="Save settings").click()
    expect(page.locator("#editor-notice")).to_have_text("Settings saved.")


def redrawn(page, action):
    """Do something in a panel that redraws it (a change, a builder button) and wait for it."""
    with page.expect_response(lambda response: response.url.endswith("/edit/")):
        action()
    idle(page)


@pytest.mark.browser
def test_a_marketer_configures_every_panel_without_json(live_server, draft, browser_page):
    from playwright.sync_api import expect

    user, campaign = draft
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/w/northwind/campaigns/{campaign.pk}/")
    expect(page.locator("svg.canvas [data-node]")).to_have_count(8)

    # Build audience: the builder, its live count; a value changed, a group added
    open_panel(page, "nl")
    panel = page.locator("#settings-form")
    expect(panel.locator("#panel-builder .rule-card")).to_have_count(1)
    expect(page.locator("#panel-count [data-count]")).to_have_attribute("data-count", "1")
    expect(panel.locator("textarea.json-input")).to_have_count(0)
    redrawn(page, lambda: panel.locator("#rb-n-rule-value").fill("DE") or panel.locator("#rb-n-rule-value").press(
        "Tab"))
    expect(page.locator("#panel-count [data-count]")).to_have_attribute("data-count", "1")
    redrawn(page, lambda: panel.get_by_role("button", name="+ Condition").first.click())
    expect(panel.locator("#rb-n-rule-all-1-field")).to_have_count(1)
    redrawn(page, lambda: panel.locator("#rb-n-rule-all-1-field").select_option("attr:loyalty_tier"))
    redrawn(page, lambda: panel.locator("#rb-n-rule-all-1-value").select_option("silver"))
    expect(page.locator("#panel-count [data-count]")).to_have_attribute("data-count", "1")
    panel.get_by_label("When no rows come out").select_option("stop")
    shot(page, "01-build-audience")
    save(page)
    assert saved(campaign, "nl") == {"definition": {"entity": "customer", "rule": {"all": [
        {"attr": "country", "op": "eq", "value": "DE"}, {"attr": "loyalty_tier", "op": "eq", "value": "silver"}]}},
        "note": "kept", "on_empty": "stop"}

    # Split: a rule on the first subset, the top 2 by sign-up date as the second
    open_panel(page, "pick")
    panel = page.locator("#settings-form")
    first = panel.locator("#subset-0")
    redrawn(page, lambda: first.get_by_role("button", name="+ Condition").click())
    redrawn(page, lambda: first.locator("#rule0-n-rule-all-0-field").select_option("attr:loyalty_tier"))
    redrawn(page, lambda: first.locator("#rule0-n-rule-all-0-value").select_option("gold"))
    # the subset's rule counted live, over all the customers
    expect(page.locator("#subset-count-0 [data-count]")).to_have_attribute("data-count", "1")
    expect(page.locator("#subset-count-1")).to_have_count(0)  # no rule there: nothing to count
    second = panel.locator("#subset-1")
    second.locator('[name="cfg-s1_name"]').fill("newest")
    second.locator('[name="cfg-s1_top_attr"]').select_option("created_at")
    second.locator('[name="cfg-s1_top_n"]').fill("2")
    shot(page, "02-split")
    save(page)
    assert saved(campaign, "pick") == {"subsets": [
        {"name": "gold", "rule": {"all": [{"attr": "loyalty_tier", "op": "eq", "value": "gold"}]}},
        {"name": "newest", "top": {"attr": "created_at", "desc": True, "n": 2}}],
        "complement": True, "overlapping": False}

    # Deduplicate: attributes ticked, not typed
    open_panel(page, "dedup")
    panel = page.locator("#settings-form")
    panel.get_by_role("checkbox", name="Mobile phone").check()
    panel.get_by_label("Keep the one with").select_option("created_at")
    panel.get_by_label("Order").select_option("desc")
    shot(page, "03-deduplicate")
    save(page)
    assert saved(campaign, "dedup") == {"fields": ["email", "phone"], "keep_first_by": "-created_at"}

    # Wait until a time of day
    open_panel(page, "pause")
    panel = page.locator("#settings-form")
    panel.locator('[name="cfg-kind"]').select_option("time")
    panel.locator('[name="cfg-time"]').fill("09:30")
    save(page)
    assert saved(campaign, "pause") == {"until": "09:30"}

    # Enrichment: an attribute, an aggregate and the next trip, all picked
    open_panel(page, "enrich")
    panel = page.locator("#settings-form")
    panel.locator('[name="cfg-attributes0_name"]').fill("home")
    panel.locator('[name="cfg-attributes0_path"]').select_option("country")
    panel.locator('[name="cfg-aggregates0_name"]').fill("spent")
    panel.locator('[name="cfg-aggregates0_agg"]').select_option("sum")
    panel.locator('[name="cfg-aggregates0_attr"]').select_option("amount")
    panel.locator('[name="cfg-aggregates0_related"]').select_option("bookings")
    panel.locator('[name="cfg-related0_name"]').fill("next_trip")
    panel.locator('[name="cfg-related0_related"]').select_option("bookings")
    panel.locator('[name="cfg-related0_order_by"]').select_option("start_date")
    panel.locator('[name="cfg-related0_columns"]').select_option(["booking_id", "start_date"])
    shot(page, "04-enrichment")
    save(page)
    assert saved(campaign, "enrich") == {
        "attributes": [{"name": "home", "path": "country"}],
        "aggregates": [{"name": "spent", "related": "bookings", "agg": "sum", "attr": "amount"}],
        "first": [{"name": "next_trip", "related": "bookings", "order_by": "start_date", "descending": False,
                   "attributes": ["booking_id", "start_date"]}]}

    # Save audience
    open_panel(page, "keep")
    panel = page.locator("#settings-form")
    panel.get_by_label("Save as the audience").fill("Spring buyers")
    panel.get_by_label("If it exists").select_option("append")
    save(page)
    assert saved(campaign, "keep") == {"name": "Spring buyers", "mode": "append"}
    # the canvas says what each box is now set to
    canvas = page.locator("svg.canvas")
    expect(canvas.locator('[data-node="keep"]')).to_contain_text("as Spring buyers")
    expect(canvas.locator('[data-node="pause"]')).to_contain_text("until 09:30")
    expect(canvas.locator('[data-node="dedup"]')).to_contain_text("by email, phone")
    expect(canvas.locator('[data-node="pick"]')).to_contain_text("2 subset(s)")
    shot(page, "05-canvas")
