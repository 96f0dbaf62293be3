"""Reports in a real browser: the agency owner sees both clients on the agency home,
sorts them, opens a client's dashboard, then a campaign's report with its chart, and
downloads its CSV and PDF. Under the strict CSP (the fixture fails on any violation)."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_foundation_flow import shot
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    WorkspaceFactory,
)


@pytest.fixture
def agency_with_history(transactional_db):
    from apps.campaigns.models import Campaign, CampaignVersion, Run
    from apps.channels import events
    from apps.channels.models import Message
    from tests.channels.delivery_rows import make_delivery

    owner = UserFactory(email="owner@example.test")
    acme = OrganizationFactory(name="Acme Agency", slug="acme")
    MembershipFactory(organization=acme, user=owner, role="owner")
    north = WorkspaceFactory(organization=acme, name="Northwind Travel", slug="northwind-travel")
    WorkspaceFactory(organization=acme, name="Contoso Retail", slug="contoso-retail")
    campaign = Campaign.objects.create(workspace=north, name="Autumn offers", status="completed")
    version = CampaignVersion.objects.create(workspace=north, campaign=campaign, number=1, definition={})
    run = Run.objects.create(workspace=north, campaign=campaign, version=version, mode="live", status="done")
    delivery = make_delivery(north, statuses={"queued": 40}, campaign=campaign, run=run, name="Autumn offers · Email")
    sent_at = timezone.now() - dt.timedelta(hours=30)
    Message.objects.filter(delivery=delivery).update(status="sent", sent_at=sent_at)
    for i, message in enumerate(Message.objects.filter(delivery=delivery).order_by("id")):
        events.event_record(message=message, type="delivered", data={})
        if i % 2 == 0:
            events.event_record(message=message, type="open", data={"user_agent": "Mail", "ip": "203.0.113.9"})
        if i % 5 == 0:
            events.event_record(message=message, type="click", data={"url": "https://shop.test/a?c=1",
                                                                     "user_agent": "Mail", "ip": "203.0.113.9"})
    return owner, campaign


@pytest.mark.browser
def test_the_owner_reads_the_agency_home_and_a_campaign_report(live_server, agency_with_history, browser_page):
    from playwright.sync_api import expect

    owner, campaign = agency_with_history
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # the agency home: both clients on one page, figures beside them
    expect(page).to_have_url(f"{live_server.url}/agency/acme/")
    table = page.locator("#agency-workspaces")
    expect(table.locator("tr[data-workspace]")).to_have_count(2)
    expect(table.locator('tr[data-workspace="northwind-travel"] td[data-col="sent"]')).to_have_text("40")
    shot(page, "reports-01-agency-home")
    table.get_by_role("link", name="Messages").click()  # sort by messages: most first
    table.get_by_role("link", name="Messages ↑").click()
    expect(table.locator("tr[data-workspace]").first).to_have_attribute("data-workspace", "northwind-travel")
    # the client's dashboard, then the campaign's report
    table.get_by_role("link", name="Northwind Travel").click()
    expect(page.locator("#home-figures")).to_contain_text("40")
    expect(page.locator("#home-chart svg")).to_be_visible()
    page.locator("#home-recent").get_by_role("link", name="Autumn offers", exact=True).click()
    expect(page.get_by_role("heading", name="Autumn offers report")).to_be_visible()
    expect(page.locator('#report-figure-table tr[data-metric="opened_unique"] td').nth(1)).to_have_text("20")
    expect(page.locator("#report-chart svg polyline.series-sent")).to_have_count(1)
    expect(page.locator("#report-links")).to_contain_text("https://shop.test/a")
    shot(page, "reports-02-campaign-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Figures (CSV)").click()
    assert download.value.suggested_filename == f"campaign-{campaign.pk}-figures.csv"
    with page.expect_download() as pdf:
        page.get_by_role("link", name="Report for the client (PDF)").click()
    assert pdf.value.suggested_filename == f"campaign-{campaign.pk}-report.pdf"
