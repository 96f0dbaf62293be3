"""The public ends of tracking links: the open pixel and the click redirect."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.channels import events, tracking
from apps.channels.models import Delivery, Message, MessageEvent
from apps.channels.views.tracking import PIXEL
from tests.channels.delivery_rows import make_delivery
from tests.channels.test_sending import live_run, parsed


@pytest.fixture
def sent(workspace):
    delivery = make_delivery(workspace, statuses={"sent": 1, "queued": 1})
    return Message.objects.get(delivery=delivery, status="sent")


def _forged(token_a: str, token_b: str) -> str:
    """B's payload with A's signature (the signature is after the last separator)."""
    sep = ":" if ":" in token_a else "."
    payload_b, _, _ = token_b.rpartition(sep)
    _, _, sig_a = token_a.rpartition(sep)
    return f"{payload_b}{sep}{sig_a}"


def test_a_followed_link_and_a_loaded_pixel_of_a_sent_email_are_recorded(
        workspace, travel, email_config, sink, queue, sends):
    # given an email really sent through the SMTP server
    run = live_run(workspace)
    queue()
    sends()
    anna = next(parsed(r) for r in sink.received() if r.rcpt_tos == ["anna@example.test"])
    html = anna.get_body(("html",)).get_content()
    click_url = re.search(r'href="([^"]*/t/c/[^"]+)"', html).group(1)
    pixel_url = re.search(r'src="([^"]*/t/o/[^"]+)"', html).group(1)
    message = Message.objects.get(delivery=Delivery.objects.get(run=run), address="anna@example.test")
    # (a minute later: hits within seconds of the send are flagged as a scanner's)
    Message.objects.filter(pk=message.pk).update(sent_at=message.sent_at - dt.timedelta(minutes=1))
    client = Client(HTTP_USER_AGENT="Mail/1.0", REMOTE_ADDR="203.0.113.7")
    # when the pixel is loaded and the link followed
    pixel = client.get(urlsplit(pixel_url).path)
    followed = client.get(urlsplit(click_url).path)
    # then the pixel is a GIF nobody caches, the link leads to the original URL, and both are kept
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif" and pixel.content == PIXEL
    assert "no-store" in pixel["Cache-Control"]
    assert followed.status_code == 302 and followed["Location"] == "https://travel.test/offers?c=NL"
    kept = {e.type: e.data for e in MessageEvent.objects.filter(message=message)}
    assert kept == {"open": {"user_agent": "Mail/1.0", "ip": "203.0.113.7"},
                    "click": {"url": "https://travel.test/offers?c=NL", "user_agent": "Mail/1.0",
                              "ip": "203.0.113.7"}}
    assert MessageEvent.objects.get(type="open").workspace_id == workspace.pk


def test_the_pixel_answers_the_same_for_a_bad_token_and_records_nothing(sent):
    good = Client().get(f"/t/o/{tracking.open_token(sent.pk)}.gif")
    for token in [tracking.open_token(sent.pk)[:-2] + "xx", "42", "nonsense", tracking.open_token(sent.pk) + "0"]:
        response = Client().get(f"/t/o/{token}.gif")
        assert (response.status_code, response.content, response["Content-Type"]) == (200, PIXEL, "image/gif")
        assert response["Cache-Control"] == good["Cache-Control"]
    assert MessageEvent.objects.filter(type="open").count() == 1  # the good one only


def test_an_open_of_a_message_that_was_not_sent_is_not_recorded(workspace):
    delivery = make_delivery(workspace, statuses={"queued": 1})
    message = Message.objects.get(delivery=delivery)
    assert Client().get(f"/t/o/{tracking.open_token(message.pk)}.gif").status_code == 200
    assert not MessageEvent.objects.exists()


def test_a_tampered_click_token_is_a_404_and_no_redirect(sent):
    token = tracking.click_token(sent.pk, "https://travel.test/offers")
    for bad in [token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"), token[1:], "x" + token, "garbage",
                tracking.open_token(sent.pk)]:
        response = Client().get(f"/t/c/{bad}")
        assert response.status_code == 404, bad
        assert "Location" not in response
    assert not MessageEvent.objects.exists()


def test_a_token_for_one_url_cannot_be_edited_to_lead_to_another(sent):
    token_a = tracking.click_token(sent.pk, "https://travel.test/offers")
    token_b = tracking.click_token(sent.pk, "https://evil.test/phish")
    forged = _forged(token_a, token_b)
    assert forged not in (token_a, token_b)
    response = Client().get(f"/t/c/{forged}")
    assert response.status_code == 404 and "Location" not in response
    # nor to another message's events
    other = _forged(tracking.click_token(sent.pk + 1, "https://travel.test/offers"), token_a)
    assert Client().get(f"/t/c/{other}").status_code == 404
    assert not MessageEvent.objects.exists()
    # the genuine token still works
    assert Client().get(f"/t/c/{token_a}")["Location"] == "https://travel.test/offers"


def test_a_click_on_a_signed_link_of_an_unknown_message_still_redirects_but_records_nothing(db):
    token = tracking.click_token(999_999_999, "https://travel.test/")
    response = Client().get(f"/t/c/{token}")
    assert (response.status_code, response["Location"]) == (302, "https://travel.test/")
    assert not MessageEvent.objects.exists()


def test_recorded_events_reach_the_hooks(sent, monkeypatch):
    seen = []
    monkeypatch.setattr(events, "EVENT_HOOKS", [lambda event, message: seen.append((event.type, message.pk))])
    Client().get(f"/t/o/{tracking.open_token(sent.pk)}.gif")
    assert seen == [("open", sent.pk)]


def test_tracking_urls_need_no_login_and_take_no_post(sent):
    token = tracking.click_token(sent.pk, "https://travel.test/")
    assert Client().post(f"/t/c/{token}").status_code == 405
    assert Client().post(f"/t/o/{tracking.open_token(sent.pk)}.gif").status_code == 405
    assert not MessageEvent.objects.exists()
