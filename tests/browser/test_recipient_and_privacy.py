"""In a real browser: a recipient's preference center under the client's brand, its
"Unsubscribe from all", and the unsubscribe link used again; a workspace admin finds a
data subject by email on the privacy page. The browser_page fixture fails on any CSP
violation."""

import re
import tempfile
from pathlib import Path

import pytest
from django.db import transaction

from apps.consent import links, services
from apps.consent.models import Topic
from apps.tenants.models import Workspace
from tests.browser.test_csp_pages import log_in
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory, make_travel_model

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "orchestrate-screenshots"


@pytest.fixture
def branded(transactional_db):
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    Workspace.objects.filter(pk=workspace.pk).update(brand_color="#0f766e")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
        topics = [Topic.objects.create(workspace=workspace, key=k, name=n, channel=c, policy="opt_in")
                  for k, n, c in (("newsletter", "Newsletter", "email"), ("texts", "Text alerts", "sms"))]
        for topic in topics:
            services.consent_record(workspace=workspace, profile_key="1", topic=topic, granted=True, source="api")
    return workspace, user, topics


def test_a_recipient_unsubscribes_from_all_and_a_reused_link_says_so(live_server, branded, browser_page):
    workspace, _user, topics = branded
    page = browser_page
    token = links.make_token(workspace_id=workspace.pk, profile_key="1", channel="email", topic="newsletter")
    page.goto(f"{live_server.url}/p/{token}")
    assert page.locator("svg.brand-bar rect").get_attribute("fill") == "#0f766e"
    assert page.locator(f"#topic-{topics[0].pk}").is_checked()
    page.get_by_role("button", name="Unsubscribe from all").click()
    page.locator("#unsubscribed-all").wait_for()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "preference-center-unsubscribed-all.png"), full_page=True)
    assert not page.locator(f"#topic-{topics[0].pk}").is_checked()
    assert not page.locator(f"#topic-{topics[1].pk}").is_checked()
    assert [services.consent_state(workspace=workspace, profile_key="1", topic=t) for t in topics] == [False, False]
    # the unsubscribe link of an older email, opened now
    page.goto(f"{live_server.url}/u/{token}")
    assert page.locator("h1").inner_text() == "You are already unsubscribed"
    assert page.get_by_role("button", name="Unsubscribe").count() == 0


def test_an_admin_finds_a_data_subject_by_email(live_server, branded, browser_page):
    _workspace, user, _topics = branded
    page = browser_page
    log_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/w/northwind/privacy/")
    page.get_by_label("Profile key, email or phone").fill("Anna@Example.test")
    page.get_by_role("button", name="Find").click()
    page.locator("#dsr-counts").wait_for()
    assert "Profile 1" in page.locator("#dsr-summary header").inner_text()
    assert re.search(r"/w/northwind/privacy/1/export/$", page.locator("#dsr-download").get_attribute("href"))
