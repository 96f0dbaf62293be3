"""The visual email editor in a real browser, under the strict CSP: a marketer builds an
email from blocks (a heading with a personalization field, an uploaded image, columns, a
button), previews it for a record at mobile width, and saves it; the HTML is compiled on
the server from the document."""

import io
import re

import pytest
from django.db import transaction
from PIL import Image

from apps.channels import sending
from apps.channels.models import ContentTemplate, Delivery, MediaImage, SenderDomain
from tests.browser.test_campaign_canvas import SCREENSHOT_DIR, shot
from tests.browser.test_sms_editor import _login
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory, make_travel_model


@pytest.fixture
def marketer(transactional_db, settings, live_server, monkeypatch):
    # image addresses are built on SITE_URL: the live server's, so the preview may load them
    settings.SITE_URL = live_server.url
    workspace = WorkspaceFactory(name="Northwind", slug="northwind", sender_email="news@northwind.test")
    SenderDomain.objects.create(workspace=workspace, domain="northwind.test", status="verified")
    # proofs are queued for the sending workers: kept here, the test reads what was queued
    monkeypatch.setattr(sending, "DISPATCH", DISPATCHED.append)
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():
        make_travel_model(workspace)
    return user


DISPATCHED: list[int] = []


def _png(tmp_path):
    path = tmp_path / "beach.png"
    out = io.BytesIO()
    Image.new("RGB", (800, 400), (30, 120, 200)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.browser
def test_a_marketer_builds_an_email_from_blocks_previews_it_on_mobile_and_saves(
        live_server, marketer, browser_page, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    _login(page, live_server, marketer)
    page.goto(f"{live_server.url}/w/northwind/templates/new/")
    form = page.locator("#template-form")
    # a new email opens in the visual editor, the HTML field hidden, with a starter document
    expect(page.locator("#eb-blocks > li.eb-block")).to_have_count(3)
    expect(form.locator("textarea[name=html]")).to_be_hidden()
    form.locator("[name=name]").fill("Spring newsletter")
    form.locator("[name=subject]").fill("Spring is here")
    blocks = page.locator("#eb-blocks > li.eb-block")
    # the heading: typed, then a personalization field inserted at the cursor
    heading = blocks.nth(0).locator("textarea[name=eb-text]")
    heading.fill("Welcome back, ")
    heading.focus()
    page.locator("#eb-field").select_option("{{ profile.first_name }}")
    expect(heading).to_have_value("Welcome back, {{ profile.first_name }}")
    # an image, uploaded to the workspace's media
    page.locator(".eb-add-top .eb-add-image").click()
    image = page.locator("#eb-blocks > li.eb-block").nth(3)
    image.locator("input[type=file]").set_input_files(str(_png(tmp_path)))
    expect(image.locator(".eb-upload-status")).to_have_text("Uploaded (800×400).")
    stored = MediaImage.objects.get()
    expect(image.locator("input[name=eb-src]")).to_have_value(f"{live_server.url}/m/{stored.token}.png")
    image.locator("input[name=eb-alt]").fill("The beach")
    # two columns of text
    page.locator(".eb-add-top .eb-add-columns").click()
    columns = page.locator("#eb-blocks > li.eb-block").nth(4)
    columns.locator(".eb-column").nth(0).locator("textarea[name=eb-text]").fill("Flights from 49 EUR")
    columns.locator(".eb-column").nth(1).locator("textarea[name=eb-text]").fill("Hotels <b>& more</b>")
    # a bad link is named precisely by the live check
    button = page.locator("#eb-blocks > li.eb-block").nth(2)
    button.locator("input[name=eb-href]").fill("javascript:alert(1)")
    expect(page.locator("#template-problems")).to_contain_text(
        "blocks[2].href: must be an http:// or https:// address, not 'javascript:alert(1)'")
    button.locator("input[name=eb-href]").fill("https://northwind.test/spring")
    expect(page.locator("#template-ok")).to_be_visible()
    # preview as record 1, then at a phone's width
    page.locator("#preview-form input[name=preview-key]").fill("1")
    page.locator("#preview-form").get_by_role("button", name="Preview").click()
    frame = page.frame_locator("#preview-html")
    expect(frame.locator("h2")).to_have_text("Welcome back, Anna")
    expect(frame.locator("img[alt='The beach']")).to_be_visible()
    expect(frame.get_by_text("Hotels <b>& more</b>")).to_be_visible()  # escaped, shown as typed
    desktop = page.locator("#preview-html").bounding_box()["width"]
    page.locator("#preview-mobile").check()
    expect(page.locator("#preview-html")).to_have_js_property("offsetWidth", 375)
    assert desktop > 375
    # the columns stack at mobile width: the second column is under the first
    left = frame.get_by_text("Flights from 49 EUR").bounding_box()
    right = frame.get_by_text("Hotels <b>& more</b>").bounding_box()
    assert right["y"] > left["y"] + left["height"] - 1
    shot(page, "email-editor-01-blocks-mobile-preview")
    page.locator(".tpl-side").screenshot(path=str(SCREENSHOT_DIR / "email-editor-03-mobile-preview-pane.png"))
    # a test to oneself, through the proof machinery
    page.locator("#proof-self").click()
    expect(page.locator("#proof-sent")).to_contain_text("Proof queued to 1 address")
    proof = Delivery.objects.get(proof=True)
    assert list(proof.messages.values_list("address", flat=True)) == ["owner@example.test"]
    assert proof.content["subject"] == "[PROOF] Spring is here" and proof.pk in DISPATCHED
    # developers can switch to the HTML, compiled from the blocks as they are, and back
    page.locator("#editor-html").click()
    expect(form.locator("textarea[name=html]")).to_be_visible()
    expect(form.locator("textarea[name=html]")).to_have_value(re.compile(r"Flights from 49 EUR"))
    expect(page.locator("#eb-blocks")).to_be_hidden()
    page.locator("#editor-visual").click()
    expect(page.locator("#eb-blocks > li.eb-block")).to_have_count(5)
    # an image already uploaded is picked from the workspace's library
    page.locator(".eb-add-top .eb-add-image").click()
    picked = page.locator("#eb-blocks > li.eb-block").nth(5)
    picked.locator("select.eb-library").select_option(index=1)
    expect(picked.locator("input[name=eb-src]")).to_have_value(f"{live_server.url}/m/{stored.token}.png")
    picked.get_by_role("button", name="Remove block").click()
    expect(page.locator("#eb-blocks > li.eb-block")).to_have_count(5)
    page.locator("#template-save").click()
    expect(page.locator("h1")).to_have_text("Spring newsletter")
    template = ContentTemplate.objects.get(name="Spring newsletter")
    kinds = [b["type"] for b in template.content["blocks"]["blocks"]]
    assert kinds == ["text", "text", "button", "image", "columns"]
    assert "Welcome back, {{ profile.first_name }}</h2>" in template.content["html"]
    assert "Hotels &lt;b&gt;&amp; more&lt;/b&gt;" in template.content["html"]
    # it opens again in the visual editor with its blocks
    expect(page.locator("#eb-blocks > li.eb-block")).to_have_count(5)
    shot(page, "email-editor-02-saved")
