"""Pages that need more than the strict Content-Security-Policy, in a real browser: an
email preview keeps its inline styles inside its sandboxed frame, and the data model
diagram is styled by its stylesheet file. The browser_page fixture fails the test on any
CSP violation."""

import re

import pytest
from django.db import transaction

from apps.channels import services as channel_services
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_travel_model,
)

EMAIL_HTML = ('<p id="styled" style="color: rgb(200, 0, 0)">Hello {{ profile.first_name }}</p>'
              '<p class="boxed">Boxed</p>')
EMAIL_CSS = ".boxed { border: 3px solid rgb(0, 0, 200); }"


@pytest.fixture
def owner_with_a_template(transactional_db):
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
        template = channel_services.template_save(
            workspace=workspace, actor=None, name="Styled", channel="email", entity_key="customer",
            content={"subject": "Hi", "html": f"<style>{EMAIL_CSS}</style>{EMAIL_HTML}", "text": "Hi"})
    return user, template


def log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf"{base}/(agency/[^/]+|w/northwind)/$"))  # owners land on the agency home
    page.goto(f"{base}/w/northwind/")


def test_an_email_preview_keeps_its_inline_styles_and_the_diagram_its_stylesheet(
        live_server, owner_with_a_template, browser_page):
    user, template = owner_with_a_template
    page = browser_page
    log_in(page, live_server.url, user.email)
    # when: previewing the template
    page.goto(f"{live_server.url}/w/northwind/templates/{template.pk}/")
    page.locator("#preview-form").get_by_role("button", name="Preview").click()
    frame = page.frame_locator("#preview-html")
    styled = frame.locator("#styled")
    styled.wait_for()
    # then: the email's style attribute and <style> block apply inside the sandboxed frame
    assert styled.evaluate("e => getComputedStyle(e).color") == "rgb(200, 0, 0)"
    assert frame.locator(".boxed").evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(0, 0, 200)"
    # and the data model page draws the diagram styled from erd.css
    page.goto(f"{live_server.url}/w/northwind/data/")
    box = page.locator("svg.erd .erd-box").first
    box.wait_for()
    assert box.evaluate("e => getComputedStyle(e).stroke") in ("rgb(148, 163, 184)", "rgb(37, 99, 235)")
