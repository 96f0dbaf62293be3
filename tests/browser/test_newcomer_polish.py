"""Found by a newcomer, checked in a real browser: the rule builder fits a 1280px window
(no sideways scroll, every button in sight) and does not shout about a value nobody has
typed yet; the schedule form shows only the chosen kind's fields."""

import re

import pytest

from tests.browser.test_audience_builder import idle, shot
from tests.browser.test_audience_builder import (
    marketer_with_travel_data as marketer_with_travel_data,
)
from tests.factories import PASSWORD

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}"""


def log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/agency/[^/]+/$"))


@pytest.mark.browser
def test_builder_fits_1280px_and_waits_for_a_value_before_complaining(live_server, browser_page, request):
    page = browser_page
    marketer_with_travel_data = request.getfixturevalue("marketer_with_travel_data")
    from playwright.sync_api import expect

    assert page.viewport_size["width"] == 1280
    log_in(page, live_server, marketer_with_travel_data)
    page.goto(f"{live_server.url}/w/northwind/audiences/new/")
    expect(page.locator("#live-count-number")).to_have_text("3")

    # a new condition: its value is empty, and nothing is marked wrong yet
    page.locator(".root-add").get_by_role("button", name="+ Condition").click()
    idle(page)
    expect(page.locator("#n-rule-all-0")).to_be_visible()
    expect(page.locator("#live-count .count-waiting")).to_contain_text("condition 1")
    expect(page.locator("#live-count .count-problems")).to_have_count(0)
    expect(page.locator(".node-problems")).to_have_count(0)
    expect(page.locator(".has-problems")).to_have_count(0)
    assert "needs a value" not in page.locator("main").inner_text()

    # a second condition, on a date, with a long list of values: still no sideways scroll
    page.locator("#n-rule").locator(".group-add").get_by_role("button", name="+ Condition").click()
    idle(page)
    page.locator("#n-rule-all-0-field").select_option("attr:country")
    idle(page)
    page.locator("#n-rule-all-0-op").select_option("in")
    idle(page)
    shot(page, "audience-fit-01-new-conditions")
    fit = page.evaluate(OVERFLOW)
    assert fit["scroll"] <= fit["width"], fit
    for name in ("Save", "Cancel", "Sample of 20", "Show SQL"):
        box = page.get_by_role("button", name=name).first.bounding_box() if name != "Cancel" \
            else page.get_by_role("button", name="Cancel").bounding_box()
        assert box is not None and box["x"] + box["width"] <= fit["width"], (name, box)

    # the user acts: saving an incomplete rule says what is missing, in words
    page.get_by_label("Name").fill("Half done")
    page.get_by_role("button", name="Save").click()
    idle(page)
    problems = page.locator("#n-rule-all-1 .node-problems")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("Fill in a value")


@pytest.fixture
def marketer_with_campaign(transactional_db, marketer_with_travel_data):
    from django.db import transaction

    from apps.campaigns import services as campaign_services
    from apps.tenants.models import Workspace
    from tests.campaigns.test_services import COMPLETE

    with transaction.atomic():
        workspace = Workspace.objects.get(slug="northwind")
        campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Weekly",
                                                     definition=COMPLETE)
    return marketer_with_travel_data, campaign.pk


@pytest.mark.browser
def test_the_schedule_form_shows_only_the_chosen_kinds_fields(live_server, browser_page, marketer_with_campaign):
    page = browser_page
    from playwright.sync_api import expect

    user, campaign_pk = marketer_with_campaign
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/w/northwind/campaigns/{campaign_pk}/")
    form = page.locator("#schedule-form")
    kind = form.locator("select[name=kind]")
    expect(kind).to_have_value("daily")
    expect(form.locator("input[name=times]")).to_be_visible()
    for hidden in ("at", "cron", "days"):
        expect(form.locator(f"input[name={hidden}]")).to_be_hidden()
    expect(form.locator("input[name=weekdays]").first).to_be_hidden()
    kind.select_option("weekly")
    expect(form.locator("input[name=weekdays]").first).to_be_visible()
    expect(form.locator("input[name=times]")).to_be_visible()
    kind.select_option("cron")
    expect(form.locator("input[name=cron]")).to_be_visible()
    expect(form.locator("input[name=times]")).to_be_hidden()
    # refused: the page comes back with cron still chosen and its field shown
    form.locator("input[name=cron]").fill("*/5 * * * *")
    form.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("#schedule-form select[name=kind]")).to_have_value("cron")
    expect(page.locator("#schedule-form input[name=cron]")).to_have_value("*/5 * * * *")
    expect(page.locator("#schedule-form input[name=cron]")).to_be_visible()
    shot(page, "schedule-form-cron-refused")
