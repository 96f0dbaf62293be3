"""SMS links and push URLs through the tracking domain's short links (/s/<token>): links
are replaced at render time (segments are counted after), one ShortLink row per distinct
URL of a delivery, each message its own token; following one records a CLICK on the
message (a push tap also its OPEN), HEAD records nothing, a forged or unknown token is a
404 and never a redirect elsewhere."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from apps.campaigns import executor
from apps.campaigns.models import ActivityRun
from apps.channels import tracking
from apps.channels.models import Delivery, Message, MessageEvent, ShortLink
from tests.channels.test_push_sending import (  # noqa: F401 - fixtures
    CONTENT,
    _register,
    _send,
    apns_key,
    apns_sink,
    fcm_sink,
    push_settings,
    service_account_key,
    web_sink,
)
from tests.channels.test_sending import live_run
from tests.channels.test_sms_sending import configure, gateway  # noqa: F401 - a fixture

LONG_PATH = "https://travel.test/offers/" + "spring-" * 20  # 167 characters: two segments on its own
SMS = {"content": {"text": "Hi {{ profile.first_name }}, your offers: " + LONG_PATH + "?c={{ profile.country }}. "
                           "Reply STOP to opt out"}}
SHORT = re.compile(re.escape(settings.SITE_URL) + r"/s/([0-9A-Za-z]+\.[0-9A-Za-z]+)")


def _path(url: str) -> str:
    return url.removeprefix(settings.SITE_URL)


def _sent_sms(workspace, gateway, queue, sends, activity_settings):  # noqa: F811
    run = live_run(workspace, settings=activity_settings, channel="sms")
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.status == "done", activity.error
    sends()
    delivery = Delivery.objects.get(run=run)
    by_address = {m.address: m for m in Message.objects.filter(delivery=delivery, status="sent")}
    return delivery, {m.to: (m, by_address[m.to]) for m in gateway.messages}


def test_sms_links_are_shortened_and_the_segments_counted_after(workspace, travel, gateway, queue, sends):  # noqa: F811
    # one segment allowed: the text only fits once its link is short
    configure(workspace, gateway, max_segments=1)
    delivery, sent = _sent_sms(workspace, gateway, queue, sends, SMS)
    assert sorted(sent) == ["+31612345678", "+33612345678"]
    anna_sms, anna = sent["+31612345678"]
    assert LONG_PATH not in anna_sms.body
    match = SHORT.search(anna_sms.body)
    assert match and anna_sms.body == f"Hi Anna, your offers: {match.group(0)}. Reply STOP to opt out"
    assert len(match.group(1)) <= 20
    # one link row per distinct URL of the delivery (the country differs), none per message
    assert sorted(ShortLink.objects.filter(delivery=delivery).values_list("url", flat=True)) == [
        LONG_PATH + "?c=FR", LONG_PATH + "?c=NL"]
    # following it goes to Anna's URL and records her click
    response = Client().get(_path(match.group(0)), HTTP_USER_AGENT="Phone/1.0")
    assert response.status_code == 302 and response["Location"] == LONG_PATH + "?c=NL"
    [click] = MessageEvent.objects.filter(message=anna)
    assert (click.type, click.data["url"], click.data["user_agent"]) == ("click", LONG_PATH + "?c=NL", "Phone/1.0")


def test_without_shortening_the_same_text_is_over_the_segment_limit(workspace, travel, gateway, queue, sends):  # noqa: F811
    configure(workspace, gateway, max_segments=1)
    run = live_run(workspace, settings={**SMS, "track_clicks": False}, channel="sms")
    queue()
    sends()
    assert gateway.messages == []
    delivery = Delivery.objects.get(run=run)
    failed = Message.objects.filter(delivery=delivery).exclude(status="excluded")
    assert {m.status for m in failed} == {"failed"} and all("over the limit of 1 segment" in m.error for m in failed)
    assert not ShortLink.objects.filter(delivery=delivery).exists()


def test_transactional_sms_keep_their_links_unless_tracking_is_asked_for(workspace, travel, gateway, queue,  # noqa: F811
                                                                        sends):
    configure(workspace, gateway)
    text = {"content": {"text": "Your booking: https://travel.test/b/{{ profile.customer_id }}"}}
    _delivery, sent = _sent_sms(workspace, gateway, queue, sends, {**text, "category": "transactional"})
    assert sent["+31612345678"][0].body == "Your booking: https://travel.test/b/1"
    gateway.messages.clear()
    _delivery, sent = _sent_sms(workspace, gateway, queue, sends, {**text, "category": "transactional",
                                                                  "track_clicks": True})
    assert SHORT.fullmatch(sent["+31612345678"][0].body.removeprefix("Your booking: "))


def test_head_records_nothing_and_forged_or_unknown_tokens_are_404(workspace, travel, gateway, queue, sends):  # noqa: F811
    configure(workspace, gateway)
    _delivery, sent = _sent_sms(workspace, gateway, queue, sends, SMS)
    anna_sms, anna = sent["+31612345678"]
    url = SHORT.search(anna_sms.body).group(0)
    client = Client()
    head = client.head(_path(url))
    assert head.status_code == 302 and not MessageEvent.objects.exists()
    link_pk, message_pk = tracking.read_short(url.rsplit("/", 1)[1])
    assert message_pk == anna.pk
    ben_pk = Message.objects.exclude(pk=anna.pk).filter(delivery=anna.delivery).first().pk
    forged = url.rsplit("/", 1)[1].replace(f".{tracking.b62(anna.pk)}", f".{tracking.b62(ben_pk)}")
    unknown_link = tracking.short_token(link_pk + 1000, anna.pk)  # well signed, no such link
    for token in (forged, unknown_link, "x", "", "1.1" + "A" * 8, "../t/c/1", "1." + "z" * 60, "1.1é" + "A" * 8,
                  "%00", "1.1%0d%0aX: y"):
        response = client.get(f"/s/{token}")
        assert response.status_code == 404, (token, response.status_code)
        assert "Location" not in response
    assert client.post(_path(url)).status_code == 405
    assert not MessageEvent.objects.exists()


def test_a_click_counts_only_for_a_message_of_the_links_delivery(workspace, travel, gateway, queue, sends):  # noqa: F811
    configure(workspace, gateway)
    first, sent = _sent_sms(workspace, gateway, queue, sends, SMS)
    link = ShortLink.objects.filter(delivery=first).first()
    other_run = live_run(workspace, settings={"content": {"text": "No link"}}, channel="sms")
    queue()
    sends()
    stranger = Message.objects.filter(delivery__run=other_run, status="sent").first()
    # a token we signed (the pair never existed): it leads to the link, the click is nobody's
    response = Client().get(f"/s/{tracking.short_token(link.pk, stranger.pk)}")
    assert response.status_code == 302
    assert not MessageEvent.objects.exists()


def test_a_test_run_counts_segments_after_shortening(workspace, travel, gateway, queue):  # noqa: F811
    configure(workspace, gateway, max_segments=1, price_per_segment=0.05)
    live = live_run(workspace, settings=SMS, channel="sms")  # only for its campaign and version
    live.delete()
    test_run = executor.run_create(campaign=live.campaign, version=live.version, mode="test")
    queue()
    report = ActivityRun.objects.get(run=test_run, node_id="mail").report
    anna = next(s for s in report["samples"] if s["address"] == "+31612345678")
    assert LONG_PATH not in anna["text"] and SHORT.search(anna["text"])
    assert anna["sms"]["segments"] == 1 and report["sms"]["over_limit"] == []
    assert not ShortLink.objects.exists()  # a test run writes no links


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_push_payloads_carry_a_tracking_url_and_a_tap_records_open_and_click(workspace, travel, push_settings,  # noqa: F811
                                                                            fcm_sink, apns_sink, queue, sends,  # noqa: F811
                                                                            platform):
    if platform == "android":
        _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    else:
        _register(workspace, "2", "ios", token="ab" * 32, app_id="test.travel.app")
    _activity, delivery = _send(workspace, queue, sends)
    if platform == "android":
        body = fcm_sink.requests[0].json()["message"]["data"]
    else:
        body = apns_sink.requests[0].json()
    assert body["url"] == CONTENT["url"] and SHORT.fullmatch(body["tracking_url"])
    response = Client().get(_path(body["tracking_url"]))
    assert response.status_code == 302 and response["Location"] == CONTENT["url"]
    message = Message.objects.get(delivery=delivery, status="sent")
    assert sorted(MessageEvent.objects.filter(message=message).values_list("type", flat=True)) == ["click", "open"]


def test_links_go_through_the_workspaces_tracking_domain(workspace, travel, gateway, email_config, queue, sends):  # noqa: F811
    email_config.tracking_domain = "https://t.travel.test"
    email_config.save(update_fields=["tracking_domain"])
    configure(workspace, gateway)
    _delivery, sent = _sent_sms(workspace, gateway, queue, sends, SMS)
    body = sent["+31612345678"][0].body
    assert re.search(r"https://t\.travel\.test/s/[0-9A-Za-z]+\.[0-9A-Za-z]+\. Reply", body), body
