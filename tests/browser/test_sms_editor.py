"""SMS and push content in a real browser, under the strict CSP: the template editor shows
the chosen channel's fields only, counts an SMS as it is typed (GSM-7 / UCS-2, the
characters forcing UCS-2, segments against the limit, cost), shows push cards per
platform with their overrides, and the canvas panels of SMS and push activities carry
the same live counter and cards."""

import json
import re

import pytest
from django.db import transaction

from apps.campaigns import services as campaign_services
from apps.channels.models import ChannelConfig, ContentTemplate
from tests.browser.test_campaign_canvas import shot
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_travel_model,
)


@pytest.fixture
def marketer(transactional_db):
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
        config = ChannelConfig(workspace=workspace, channel="sms", backend="twilio", options={
            "account": "AC" + "0" * 32, "sender": "+14155550100", "sender_kind": "number",
            "price_per_segment": 0.05, "max_segments": 2})
        config.secret = "token"
        config.save()
    user.workspace = workspace
    return user


def _login(page, live_server, user):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # an agency owner lands on the agency home, and opens the client from its list
    expect(page).to_have_url(re.compile(rf"{live_server.url}/agency/[^/]+/$"))
    page.locator("#agency-workspaces").get_by_role("link", name="Northwind").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/")


@pytest.mark.browser
def test_an_sms_template_is_counted_as_it_is_typed_and_saved(live_server, marketer, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    _login(page, live_server, marketer)
    page.goto(f"{live_server.url}/w/northwind/templates/new/?channel=sms")
    form = page.locator("#template-form")
    # only the SMS fields show
    expect(form.locator("[name=sms_text]")).to_be_visible()
    expect(form.locator("[name=html]")).to_be_hidden()
    expect(form.locator("[name=subject]")).to_be_hidden()
    form.locator("[name=name]").fill("Reminder")
    count = page.locator("#sms-count")
    form.locator("[name=sms_text]").fill("Hi {{ profile.first_name }}, your trip is ready")
    expect(count.locator("[data-count=encoding]")).to_have_text("GSM-7")
    expect(count.locator("[data-count=segments]")).to_have_text("1")
    expect(count.locator("[data-count=cost]")).to_have_text("0.05")
    # a character outside GSM-7 switches to UCS-2 and is named
    form.locator("[name=sms_text]").press_sequentially(" ✈")
    expect(count.locator("[data-count=encoding]")).to_have_text("UCS-2")
    expect(page.locator("#sms-ucs2-chars")).to_contain_text("✈")
    form.locator("[name=sms_text]").fill("✈" * 140)
    expect(count.locator("[data-count=segments]")).to_have_text("3")
    expect(page.locator("#sms-over-limit")).to_contain_text("over the limit of 2")
    form.locator("[name=sms_text]").fill("Hi {{ profile.first_name }} ✓")
    expect(count.locator("[data-count=segments]")).to_have_text("1")
    # the preview renders it for a record
    page.locator("#preview-form input[name=preview-key]").fill("1")
    page.locator("#preview-form").get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-sms")).to_have_text("Hi Anna ✓")
    shot(page, "sms-editor-01-counter")
    page.locator("#template-save").click()
    expect(page.locator("h1")).to_have_text("Reminder")
    template = ContentTemplate.objects.get(name="Reminder")
    assert (template.channel, template.content) == ("sms", {"text": "Hi {{ profile.first_name }} ✓"})
    expect(page.locator("#sms-count [data-count=encoding]")).to_have_text("UCS-2")


@pytest.mark.browser
def test_a_push_template_shows_a_card_per_platform_with_its_overrides(live_server, marketer, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    _login(page, live_server, marketer)
    page.goto(f"{live_server.url}/w/northwind/templates/new/")
    form = page.locator("#template-form")
    form.locator("[name=channel]").select_option("push")
    expect(form.locator("[name=push_text]")).to_be_visible()
    expect(form.locator("[name=sms_text]")).to_be_hidden()
    form.locator("[name=name]").fill("Offer")
    form.locator("[name=title]").fill("Hello {{ profile.first_name }}")
    form.locator("[name=push_text]").fill("Spring offers")
    form.locator("[name=data_key_0]").fill("offer")
    form.locator("[name=data_value_0]").fill("spring")
    page.locator("#push-overrides > summary").click()
    form.locator("[name=override_ios_title]").fill("On your iPhone")
    cards = page.locator("#push-cards")
    expect(cards.locator('[data-platform="ios"] .push-title')).to_have_text("On your iPhone")
    expect(cards.locator('[data-platform="web"] .push-title')).to_have_text("Hello {{ profile.first_name }}")
    expect(cards.locator('[data-platform="android"] .push-data')).to_contain_text("offer=spring")
    page.locator("#preview-form input[name=preview-key]").fill("2")
    page.locator("#preview-form").get_by_role("button", name="Preview").click()
    expect(page.locator('#preview-push-cards [data-platform="web"] .push-title')).to_have_text("Hello Ben")
    shot(page, "push-editor-01-cards")
    page.locator("#template-save").click()
    expect(page.locator("h1")).to_have_text("Offer")
    assert ContentTemplate.objects.get(name="Offer").content == {
        "title": "Hello {{ profile.first_name }}", "text": "Spring offers", "data": {"offer": "spring"},
        "overrides": {"ios": {"title": "On your iPhone"}}}


DEFINITION = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                        {"id": "who", "type": "build_audience", "settings": {"definition": {
                            "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                        {"id": "text", "type": "sms", "settings": {"content": {"text": "Hi"}, "note": 1}},
                        {"id": "note", "type": "push", "settings": {"content": {"title": "T", "text": "B"}}},
                        {"id": "end", "type": "end", "settings": {}}],
              "edges": [{"from": "start", "outlet": "out", "to": "who"}, {"from": "who", "outlet": "out", "to": "text"},
                        {"from": "text", "outlet": "out", "to": "note"}, {"from": "note", "outlet": "out", "to": "end"}]}


@pytest.mark.browser
def test_the_canvas_panels_of_sms_and_push_have_the_counter_and_the_cards(live_server, marketer, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    campaign = campaign_services.campaign_create(workspace=marketer.workspace, actor=None, name="Texts",
                                                 definition=json.loads(json.dumps(DEFINITION)))
    _login(page, live_server, marketer)
    page.goto(f"{live_server.url}/w/northwind/campaigns/{campaign.pk}/?node=text")
    settings = page.locator("#settings-form")
    expect(page.locator("#sms-count [data-count=encoding]")).to_have_text("GSM-7")
    settings.locator("[name=cfg-text]").fill("Grüße ✈ {{ profile.first_name }}")
    expect(page.locator("#sms-count [data-count=encoding]")).to_have_text("UCS-2")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("#editor-notice")).to_have_text("Settings saved.")
    expect(page.locator("#sms-count [data-count=encoding]")).to_have_text("UCS-2")
    # the push panel
    page.goto(f"{live_server.url}/w/northwind/campaigns/{campaign.pk}/?node=note")
    settings = page.locator("#settings-form")
    expect(page.locator('#push-cards [data-platform="web"] .push-title')).to_have_text("T")
    settings.locator("[name=cfg-title]").fill("Trips for {{ profile.first_name }}")
    settings.locator("[name=cfg-data_key_0]").fill("offer")
    settings.locator("[name=cfg-data_value_0]").fill("{{ profile.country }}")
    page.locator("#push-overrides > summary").click()
    settings.locator("[name=cfg-override_android_text]").fill("Tap to see")
    expect(page.locator('#push-cards [data-platform="android"] .push-body')).to_have_text("Tap to see")
    expect(page.locator('#push-cards [data-platform="ios"] .push-title')).to_have_text(
        re.compile(r"^Trips for \{\{ profile.first_name \}\}$"))
    settings.locator("[name=cfg-push_devices]").select_option("newest")
    shot(page, "push-panel-01")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("#editor-notice")).to_have_text("Settings saved.")
    # the panel drawn again loads its cards: the saved title
    expect(page.locator('#push-cards [data-platform="web"] .push-title')).to_have_text(
        "Trips for {{ profile.first_name }}")
    nodes = {n["id"]: n for n in campaign_services.latest_version(campaign).definition["nodes"]}
    assert nodes["text"]["settings"] == {"content": {"text": "Grüße ✈ {{ profile.first_name }}"}, "note": 1,
                                        "track_clicks": True}
    assert nodes["note"]["settings"] == {
        "content": {"title": "Trips for {{ profile.first_name }}", "text": "B", "data": {"offer": "{{ profile.country }}"},
                    "overrides": {"android": {"text": "Tap to see"}}}, "push_devices": "newest",
        "track_clicks": True}
