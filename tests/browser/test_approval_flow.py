"""The approval flow in a real browser, as a marketer and as an approver: request ->
comment -> send back -> request -> approve (which publishes); then the approver starts a
live run and is first asked "Send to N recipients on these channels?". Screenshots go to
the ignored test-results/ directory."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from apps.campaigns import services
from tests.browser.test_campaign_canvas import thread_executor  # noqa: F401 (a fixture)
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, grant, make_travel_model

SCREENSHOT_DIR = Path(settings.BASE_DIR) / "test-results" / "screenshots"

DEFINITION = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                        {"id": "nl", "type": "build_audience", "label": "Benelux and France", "settings": {
                            "definition": {"entity": "customer",
                                           "rule": {"attr": "country", "op": "in", "value": ["NL", "FR"]}}}},
                        {"id": "mail", "type": "email", "label": "Spring mail", "settings": {"content": {
                            "subject": "Spring", "html": "<p>Hi {{ profile.first_name }}</p>",
                            "from_email": "news@travel.test"}}},
                        {"id": "end", "type": "end", "settings": {}}],
              "edges": [{"from": "start", "outlet": "out", "to": "nl"}, {"from": "nl", "outlet": "out", "to": "mail"},
                        {"from": "mail", "outlet": "out", "to": "end"}]}


@pytest.fixture
def people(transactional_db):
    from apps.channels.models import SenderDomain

    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    marketer = grant(UserFactory(email="mia@example.test"), workspace, "marketer")
    approver = grant(UserFactory(email="ann@example.test"), workspace, "approver")
    with transaction.atomic():
        make_travel_model(workspace)
        SenderDomain.objects.create(workspace=workspace, domain="travel.test", status="verified")
        campaign = services.campaign_create(workspace=workspace, actor=marketer, name="Spring sale",
                                            definition=DEFINITION)
    return {"marketer": marketer, "approver": approver, "campaign": campaign}


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


def sign_in(page, base: str, user) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@pytest.mark.browser
def test_marketer_requests_and_approver_sends_back_then_approves_and_confirms_the_send(
        live_server, people, thread_executor, browser_page, monkeypatch):  # noqa: F811
    from playwright.sync_api import expect

    from apps.channels import sending

    sends: list[int] = []  # the live run's delivery is handed to the senders here, not to the shared broker
    monkeypatch.setattr(sending, "DISPATCH", sends.append)

    page, base = browser_page, live_server.url
    campaign_url = f"{base}/w/northwind/campaigns/{people['campaign'].pk}/"

    # the marketer asks for approval
    sign_in(page, base, people["marketer"])
    page.goto(campaign_url)
    expect(page.locator("#approval-stage")).to_have_text("Draft")
    expect(page.locator("button[value=publish]")).to_have_count(0)  # a marketer does not publish
    page.locator("#approval-request-form").get_by_label("Note for the approvers").fill("Ready for <b>review</b>")
    page.get_by_role("button", name="Request approval").click()
    expect(page.locator("#approval-stage")).to_have_text("Awaiting approval")
    expect(page.locator("#approval-thread")).to_contain_text("Ready for <b>review</b>")
    expect(page.locator("#approval-approve-button")).to_have_count(0)  # not on one's own request
    expect(page.locator("#approvals-count")).to_have_text("1")

    # the approver finds it in the Approvals list, comments and sends it back
    sign_in(page, base, people["approver"])
    page.goto(f"{base}/w/northwind/")
    expect(page.locator("#approvals-count")).to_have_text("1")
    page.locator("#nav-approvals").click()
    expect(page.locator("#approvals-open")).to_contain_text("Awaiting approval (1)")
    shot(page, "approval-01-list")
    page.locator("#approvals-open").get_by_role("link", name="Spring sale").click()
    page.locator("#approval-comment-form").get_by_label("Comment").fill("Is the subject final?")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator("#approval-thread")).to_contain_text("Is the subject final?")
    page.locator("#approval-send-back-form").get_by_label("Reason for sending it back").fill("Say which sale")
    page.get_by_role("button", name="Send back").click()
    expect(page.locator("#approval-stage")).to_have_text("Sent back")
    expect(page.locator("#approvals-count")).to_have_count(1)
    expect(page.locator("#approvals-count")).to_have_text("")

    # the marketer reads the reason and asks again
    sign_in(page, base, people["marketer"])
    page.goto(campaign_url)
    expect(page.locator("#approval-reason")).to_have_text("Say which sale")
    page.get_by_role("button", name="Request approval").click()
    expect(page.locator("#approval-stage")).to_have_text("Awaiting approval")

    # the approver approves: it is published and live
    sign_in(page, base, people["approver"])
    page.goto(campaign_url)
    shot(page, "approval-02-awaiting")
    page.get_by_role("button", name=re.compile(r"^Approve and publish v1$")).click()
    expect(page.locator("#approval-stage")).to_have_text("Approved")
    expect(page.locator("#campaign-status")).to_have_text("Live")
    expect(page.locator(".canvas-legend")).not_to_contain_text("Ready to publish")
    expect(page.locator("#approval-thread li")).to_have_count(5)
    shot(page, "approval-03-approved")

    # starting it asks first, with a fresh count and the channels
    page.locator("#start-button").click()
    expect(page.locator("#confirm-question")).to_have_text("Send to up to 2 recipients on Email?")
    expect(page.locator("#confirm-channels")).to_contain_text("Spring mail")
    shot(page, "approval-04-confirm-send")
    page.locator("#confirm-cancel").click()
    expect(page).to_have_url(campaign_url)
    expect(page.locator("#runs-panel")).to_contain_text("No run yet")
    page.locator("#start-button").click()
    page.get_by_role("button", name="Yes, send").click()
    expect(page).to_have_url(re.compile(rf"{base}/w/northwind/campaigns/runs/\d+/$"))
    expect(page.locator(".page-head")).to_contain_text("Live · version 1")
    expect(page.locator('#row-mail .badge')).to_have_text("Done", timeout=30_000)
    assert len(sends) >= 1  # the email's delivery went to the senders
    shot(page, "approval-05-run-page")


@pytest.mark.browser
def test_a_test_run_skips_its_wait_and_the_marketer_previews_the_rows_on_an_edge(
        live_server, people, thread_executor, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    page, base = browser_page, live_server.url
    waiting = {**DEFINITION, "nodes": [*DEFINITION["nodes"][:2],
                                       {"id": "pause", "type": "wait", "label": "Three days later",
                                        "settings": {"amount": 3, "unit": "days"}}, *DEFINITION["nodes"][2:]],
               "edges": [{"from": "start", "outlet": "out", "to": "nl"},
                         {"from": "nl", "outlet": "out", "to": "pause"},
                         {"from": "pause", "outlet": "out", "to": "mail"},
                         {"from": "mail", "outlet": "out", "to": "end"}]}
    campaign = people["campaign"]
    services.draft_save(workspace=campaign.workspace, actor=people["marketer"], campaign=campaign, definition=waiting)
    sign_in(page, base, people["marketer"])
    page.goto(f"{base}/w/northwind/campaigns/{campaign.pk}/")
    expect(page.locator("#skip-waits")).to_be_checked()
    page.get_by_role("button", name="Test run v1").click()
    expect(page).to_have_url(re.compile(rf"{base}/w/northwind/campaigns/runs/\d+/$"))
    expect(page.locator("#run-outcome")).to_have_text("Done", timeout=30_000)
    expect(page.locator("#run-test-mode")).to_contain_text("waits are skipped")
    expect(page.locator('[data-wait-skipped="pause"]')).to_contain_text("a live run would wait until")
    expect(page.locator("#samples-mail .sample")).to_have_count(2)
    # each sample is the email as rendered for its recipient, framed
    expect(page.frame_locator("#sample-frame-mail-1").locator("p")).to_have_text("Hi Anna")
    expect(page.locator(".sql-log")).to_have_count(0)  # SQL is for workspace admins
    # the rows flowing from the wait into the email
    page.reload()  # the connection list is drawn once the run's counts exist
    page.locator("#edge-choice").select_option(label="Three days later → Spring mail · 2 rows")
    page.get_by_role("button", name="Show rows").click()
    table = page.locator("#edge-preview-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("anna@example.test")
    expect(table).not_to_contain_text("ben@example.test")
    shot(page, "run-01-test-run-with-edge-preview")
