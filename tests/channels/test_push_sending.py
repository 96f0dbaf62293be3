"""A live campaign sends push through the real clients to loopback servers speaking the
services' APIs (bench/pushsink.py): Web Push payloads decrypted with the test's own
subscription keys (RFC 8291) under a checked VAPID signature; FCM v1 with an OAuth token
fetched from the service account's token_uri; APNs over HTTP/2 with an ES256 provider
token. Gone devices are deactivated at once; profiles without a device are "no address"."""

from __future__ import annotations

import base64
import json
import os
import time

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.test import Client

from apps.campaigns.models import ActivityRun
from apps.channels import devices, push_config
from apps.channels.models import Delivery, Message, PushSubscription
from bench.pushsink import ApnsSink, FcmSink, WebPushSink, b64decode, vapid_parts, verify_jwt
from tests.channels.test_sending import live_run

CONTENT = {"title": "Hello {{ profile.first_name }}", "text": "Offers for {{ profile.country }}",
           "url": "https://travel.test/offers"}
APNS_KEY_ID, TEAM_ID, BUNDLE = "ABC123DEFG", "TEAM123456", "test.travel.app"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class Browser:
    """A browser's side of a Web Push subscription: its key pair and auth secret."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self, endpoint: str) -> dict:
        public = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": endpoint, "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def web_sink():
    with WebPushSink() as sink:
        yield sink


@pytest.fixture
def service_account_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm_sink(service_account_key):
    with FcmSink(service_account_key.public_key(), project="travel-test") as sink:
        yield sink


@pytest.fixture
def apns_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def apns_sink(apns_key):
    with ApnsSink(apns_key.public_key(), APNS_KEY_ID, TEAM_ID) as sink:
        yield sink


@pytest.fixture
def push_settings(workspace, web_sink, fcm_sink, apns_sink, service_account_key, apns_key):
    account = {"type": "service_account", "project_id": "travel-test", "private_key_id": "k1",
               "private_key": _pem(service_account_key), "client_email": "push@travel-test.iam.gserviceaccount.com",
               "token_uri": f"{fcm_sink.url}/token"}
    return push_config.push_config_save(
        workspace=workspace, actor=None, generate_vapid=True, fcm_service_account=account, apns_key=_pem(apns_key),
        options={"vapid_subject": "mailto:ops@travel.test", "fcm_base_url": fcm_sink.url,
                 "apns_base_url": apns_sink.url, "apns_key_id": APNS_KEY_ID, "apns_team_id": TEAM_ID})


def _register(workspace, profile_key, platform, **kw):
    return devices.push_subscription_register(workspace=workspace, profile_key=profile_key, platform=platform,
                                              **kw)[0]


def _send(workspace, queue, sends, settings=None):
    run = live_run(workspace, settings={"content": CONTENT, **(settings or {})}, channel="push")
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.status == "done", activity.error
    sends()
    return activity, Delivery.objects.get(run=run)


def test_web_push_is_encrypted_for_the_browser_and_signed_with_the_workspace_vapid_key(
        workspace, travel, push_settings, web_sink, queue, sends):
    # given Anna subscribed in a browser whose keys only the test holds
    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna"))
    # when a live campaign sends push
    activity, delivery = _send(workspace, queue, sends, {"content": {**CONTENT, "ttl": "600",
                                                                      "collapse_key": "spring"}})
    # then the push service got one request, which only Anna's browser can read
    assert activity.report["recipients"] == 1
    assert activity.report["excluded"] == {"no_address": 2}  # Ben and Chloe have no device
    [seen] = web_sink.requests
    assert seen.path == "/push/anna"
    assert (seen.headers["content-encoding"], seen.headers["ttl"], seen.headers["topic"]) == ("aes128gcm", "600",
                                                                                             "spring")
    payload = browser.decrypt(seen.body)
    assert (payload["title"], payload["body"]) == ("Hello Anna", "Offers for NL")
    # the URL goes through the tracking domain's short link, which leads to the page
    assert payload["url"].startswith(f"{settings.SITE_URL}/s/")
    assert Client().get(payload["url"].removeprefix(settings.SITE_URL))["Location"] == "https://travel.test/offers"
    # signed by the workspace's VAPID key, for this push service
    token, key = vapid_parts(seen.headers["authorization"])
    assert key == push_settings.options["vapid_public_key"]
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(key))
    _header, claims = verify_jwt(token, public, "ES256")
    assert claims["aud"] == web_sink.url and claims["sub"] == "mailto:ops@travel.test"
    assert claims["exp"] > time.time()
    message = Message.objects.get(delivery=delivery, status="sent")
    assert message.profile_key == "1" and message.provider_id.startswith(web_sink.url)


def test_fcm_gets_an_oauth_token_from_the_service_account_and_the_v1_message(
        workspace, travel, push_settings, fcm_sink, queue, sends):
    ben = _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    _register(workspace, "3", "android", token="chloe-unregistered-0123456789")
    activity, delivery = _send(workspace, queue, sends, {"content": {**CONTENT, "collapse_key": "spring"},
                                                         "track_clicks": False})
    assert activity.report["recipients"] == 2
    [seen] = fcm_sink.requests
    assert fcm_sink.token_requests == 1
    assert seen.headers["authorization"] == "Bearer ya29.test-1"
    assert seen.json() == {"message": {
        "token": "ben-fcm-token-0123456789abcdef",
        "notification": {"title": "Hello Ben", "body": "Offers for DE"},
        "data": {"url": "https://travel.test/offers"},
        "android": {"ttl": "86400s", "priority": "high", "collapse_key": "spring"}}}
    sent = Message.objects.get(delivery=delivery, status="sent")
    assert (sent.address, sent.provider_id) == (str(ben.pk), "projects/travel-test/messages/1")
    # Chloe's token is unregistered: her message fails and her device is off at once
    failed = Message.objects.get(delivery=delivery, status="failed")
    assert (failed.profile_key, failed.reason) == ("3", "rejected")
    chloe = PushSubscription.objects.get(profile_key="3")
    assert (chloe.active, chloe.deactivated_reason) == (False, "FCM: NOT_FOUND Requested entity was not found.")


def test_apns_over_http2_with_the_provider_token_and_headers(workspace, travel, push_settings, apns_sink, queue,
                                                              sends):
    anna = _register(workspace, "1", "ios", token="ab" * 32, app_id=BUNDLE)
    _register(workspace, "2", "ios", token="dead" + "0" * 60, app_id=BUNDLE)
    _register(workspace, "3", "ios", token="bad" + "0" * 61, app_id=BUNDLE)
    before = int(time.time())
    _activity, delivery = _send(workspace, queue, sends, {"content": {**CONTENT, "ttl": "3600",
                                                                      "collapse_key": "spring"},
                                                          "track_clicks": False})
    assert apns_sink.http_versions == {"2"}
    [seen] = apns_sink.requests
    assert seen.path == f"/3/device/{'ab' * 32}"
    assert (seen.headers["apns-topic"], seen.headers["apns-push-type"], seen.headers["apns-collapse-id"],
            seen.headers["apns-priority"]) == (BUNDLE, "alert", "spring", "10")
    assert before + 3600 <= int(seen.headers["apns-expiration"]) <= int(time.time()) + 3600
    assert seen.json() == {"aps": {"alert": {"title": "Hello Anna", "body": "Offers for NL"}, "sound": "default"},
                           "url": "https://travel.test/offers"}
    sent = Message.objects.get(delivery=delivery, status="sent")
    assert sent.address == str(anna.pk) and sent.provider_id == seen.headers["apns-id"]
    # 410 Unregistered and 400 BadDeviceToken both switch the device off
    gone = PushSubscription.objects.filter(active=False).order_by("profile_key")
    assert [(s.profile_key, s.deactivated_reason) for s in gone] == [("2", "APNs: Unregistered"),
                                                                    ("3", "APNs: BadDeviceToken")]


def test_one_message_per_device_or_to_the_newest_only(workspace, travel, push_settings, web_sink, fcm_sink,
                                                      queue, sends):
    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna-laptop"))
    time.sleep(0.01)
    _register(workspace, "1", "android", token="anna-phone-0123456789abcdef")
    _register(workspace, "2", "android", token="ben-phone-0123456789abcdef")
    # an unregistered device is no address
    _register(workspace, "3", "android", token="chloe-old-0123456789abcdef")
    devices.push_subscription_deactivate(subscription=PushSubscription.objects.get(profile_key="3"),
                                         reason="unregistered by the app")
    activity, _delivery = _send(workspace, queue, sends)
    assert (activity.report["recipients"], activity.report["excluded"]) == (3, {"no_address": 1})
    assert (len(web_sink.requests), len(fcm_sink.requests)) == (1, 2)
    activity, _delivery = _send(workspace, queue, sends, {"push_devices": "newest"})
    assert (activity.report["recipients"], activity.report["excluded"]) == (2, {"no_address": 1})
    assert (len(web_sink.requests), len(fcm_sink.requests)) == (1, 4)  # Anna's phone, seen last



def test_data_image_and_per_platform_overrides_reach_each_service(workspace, travel, push_settings, web_sink,
                                                                   fcm_sink, apns_sink, queue, sends):
    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna"))
    _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    _register(workspace, "3", "ios", token="cd" * 32, app_id=BUNDLE)
    content = {**CONTENT, "image_url": "https://img.travel.test/{{ profile.country }}.jpg",
               "data": {"offer": "spring", "n": 3}, "overrides": {"ios": {"title": "Trips for you"}}}
    _send(workspace, queue, sends, {"content": content, "track_clicks": False})
    web = browser.decrypt(web_sink.requests[0].body)
    assert (web["image"], web["data"]) == ("https://img.travel.test/NL.jpg", {"offer": "spring", "n": "3"})
    fcm = fcm_sink.requests[0].json()["message"]
    assert fcm["notification"]["image"] == "https://img.travel.test/DE.jpg"
    assert fcm["data"] == {"offer": "spring", "n": "3", "url": "https://travel.test/offers"}
    apns = apns_sink.requests[0].json()
    assert apns["aps"] == {"alert": {"title": "Trips for you", "body": "Offers for FR"}, "sound": "default",
                           "mutable-content": 1}
    assert (apns["offer"], apns["image_url"]) == ("spring", "https://img.travel.test/FR.jpg")


@pytest.mark.parametrize("extra,field", [
    ({"ttl": "soon"}, "ttl"),
    ({"ttl": str(29 * 24 * 3600)}, "ttl"),
    ({"collapse_key": "a b"}, "collapse_key"),
    ({"data": {"nested": {"no": 1}}}, "data"),
    ({"data": {"google.x": "1"}}, "data"),
    ({"data": "[1, 2]"}, "data"),
    ({"overrides": {"fax": {"title": "x"}}}, "overrides"),
    ({"overrides": {"ios": {"title": "a\nb"}}}, "overrides"),
    ({"url": "https://travel.test/a b"}, "url"),
    ({"title": "Hello\r\nX"}, "title"),
])
def test_push_content_is_checked_at_save(workspace, travel, extra, field):
    from apps.channels import content as content_mod

    problems = content_mod.problems("push", {**CONTENT, **extra})
    assert [p.field for p in problems] == [field], problems
