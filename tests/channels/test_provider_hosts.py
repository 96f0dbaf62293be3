"""The hosts the platform calls for SMS and push: a tenant-set base URL (SMS gateway, FCM,
APNs) must be a provider's own host or listed by the operator (SMS_BASE_URL_HOSTS,
PUSH_BASE_URL_HOSTS), and resolve to public addresses only (unless
CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS). Checked at save (a 400 naming the field) and again at
connect, where the connection goes to the address that was checked: a refused SMS/FCM/APNs
host pauses the delivery like an outage, a refused Web Push endpoint fails its message."""

from __future__ import annotations

import json
import socket

import pytest
from django.test import Client, override_settings

from apps.channels import outbound, sending
from apps.channels.models import Delivery, Message, PushSubscription
from apps.core.net import HostRefused
from tests.channels.test_push_config import ACCOUNT
from tests.channels.test_push_sending import (  # noqa: F401 - fixtures
    Browser,
    _register,
    apns_key,
    apns_sink,
    fcm_sink,
    push_settings,
    service_account_key,
    web_sink,
)
from tests.channels.test_sending import live_run
from tests.channels.test_sms_config import admin_api, twilio  # noqa: F401 - a fixture
from tests.channels.test_sms_sending import TEXT, configure, gateway  # noqa: F401 - a fixture
from tests.factories import make_api_key

GUARDED = override_settings(CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS=False)


class _Names(dict):
    lookups: dict[str, int]


@pytest.fixture
def resolver(monkeypatch):
    """Names the test makes resolve: {name: [address of the 1st lookup, of later ones]};
    other names as the system says. `resolver.lookups` counts each name's lookups."""
    names = _Names()
    lookups: dict[str, int] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            lookups[host] = lookups.get(host, 0) + 1
            answers = names[host]
            return real(answers[min(lookups[host], len(answers)) - 1], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    names.lookups = lookups
    return names


@pytest.fixture
def push_admin(workspace):
    _, raw = make_api_key(workspace, role="admin", name="push admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.url = f"/api/v1/workspaces/{workspace.slug}/channels/push/"
    return client


# --- the allow-lists ------------------------------------------------------------------

@override_settings(SMS_BASE_URL_HOSTS=["gw.example.net", ".gateways.example.com"], PUSH_BASE_URL_HOSTS=[])
def test_the_providers_hosts_are_always_allowed_and_listed_ones_beside_them():
    for host in ("api.twilio.com", "rest.nexmo.com", "gw.example.net", "eu.gateways.example.com", "GW.EXAMPLE.NET."):
        assert outbound.host_listed("sms", host), host
    for host in ("gateways.example.com", "evil.example.net", "api.twilio.com.evil.test", "127.0.0.1", ""):
        assert not outbound.host_listed("sms", host), host
    assert outbound.host_listed("push", "fcm.googleapis.com") and outbound.host_listed("push", "api.push.apple.com")
    assert not outbound.host_listed("push", "gw.example.net")  # the SMS list is not the push list
    with pytest.raises(HostRefused, match="SMS_BASE_URL_HOSTS"):
        outbound.check_host("sms", "intranet.local")


@override_settings(SMS_BASE_URL_HOSTS=[])
def test_an_sms_base_url_on_an_unlisted_host_is_refused_at_save(workspace, gateway, admin_api):  # noqa: F811
    response = admin_api("PUT", "", twilio(gateway))
    assert response.status_code == 400
    assert "base_url" in response.json() and "SMS_BASE_URL_HOSTS" in response.json()["base_url"][0]
    response = admin_api("PUT", "", twilio(gateway, base_url="https://api.twilio.com"))
    assert response.status_code == 200, response.content


@GUARDED
def test_an_sms_base_url_resolving_to_a_private_address_is_refused_at_save(workspace, gateway, admin_api, resolver):  # noqa: F811
    resolver["gw.example.net"] = ["10.0.0.7"]
    with override_settings(SMS_BASE_URL_HOSTS=["gw.example.net"]):
        response = admin_api("PUT", "", twilio(gateway, base_url="https://gw.example.net"))
    assert response.status_code == 400 and "private" in response.json()["base_url"][0]


def test_push_base_urls_on_unlisted_hosts_are_refused_at_save(workspace, push_admin):
    for body, field in (({"options": {"fcm_base_url": "https://fcm.example.org"}}, "fcm_base_url"),
                        ({"options": {"apns_base_url": "https://apns.example.org"}}, "apns_base_url"),
                        ({"fcm_service_account": {**ACCOUNT, "token_uri": "https://tokens.example.org/t"}},
                         "fcm_service_account.token_uri")):
        response = push_admin.put(push_admin.url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and "PUSH_BASE_URL_HOSTS" in response.json()[field][0], response.content


# --- at connect: the checked address, the outage path ------------------------------------

def test_the_sms_connection_goes_to_the_address_that_was_checked(workspace, travel, gateway, queue, sends,  # noqa: F811
                                                                 resolver):
    # gw.sms.test resolves to the gateway once, then elsewhere (a rebinding name server):
    # both messages reach the gateway because the connection was made to the address the
    # one lookup gave, and no second lookup was made behind the check
    resolver["gw.sms.test"] = ["127.0.0.1", "127.0.0.2"]
    with override_settings(SMS_BASE_URL_HOSTS=["gw.sms.test"]):
        configure(workspace, gateway, base_url=f"http://gw.sms.test:{gateway.port}")
        live_run(workspace, settings=TEXT, channel="sms")
        queue()
        sends()
    assert sorted(m.to for m in gateway.messages) == ["+31612345678", "+33612345678"]
    assert resolver.lookups == {"gw.sms.test": 1}


@pytest.mark.parametrize("backend", ["twilio", "vonage"])
def test_a_base_url_refused_at_connect_pauses_the_sms_delivery(workspace, travel, gateway, queue, sends, backend):  # noqa: F811
    # saved while it was allowed (or written around the form); the guard holds at send time
    configure(workspace, gateway, backend=backend)
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    delivery = Delivery.objects.get(run=run)
    with GUARDED:
        sending.send_some(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outage_since is not None and "host_refused" in delivery.outage_error
    assert "loopback, private" in delivery.outage_error
    assert gateway.messages == []
    assert set(Message.objects.filter(delivery=delivery).exclude(status="excluded").values_list(
        "status", flat=True)) == {"queued"}
    # listed no more: refused before any lookup
    Delivery.objects.filter(pk=delivery.pk).update(paused_until=None)
    with override_settings(SMS_BASE_URL_HOSTS=[]):
        sending.send_some(delivery.pk)
    delivery.refresh_from_db()
    assert "SMS_BASE_URL_HOSTS" in delivery.outage_error and gateway.messages == []
    # allowed again: everything goes, once
    Delivery.objects.filter(pk=delivery.pk).update(paused_until=None)
    sending.send_some(delivery.pk)
    sends()
    assert len(gateway.messages) == 2


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_a_push_base_url_refused_at_connect_pauses_the_delivery(workspace, travel, push_settings, fcm_sink,  # noqa: F811
                                                                 apns_sink, queue, sends, platform):  # noqa: F811
    token = "ben-fcm-token-0123456789abcdef" if platform == "android" else "ab" * 32
    _register(workspace, "2", platform, token=token, **({"app_id": "test.travel.app"} if platform == "ios" else {}))
    run = live_run(workspace, settings={"content": {"title": "Hi", "text": "Offers"}}, channel="push")
    queue()
    delivery = Delivery.objects.get(run=run)
    with override_settings(PUSH_BASE_URL_HOSTS=[]):
        sending.send_some(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outage_since is not None and "host_refused" in delivery.outage_error
    assert (fcm_sink.requests, apns_sink.requests, fcm_sink.token_requests) == ([], [], 0)
    assert Message.objects.get(delivery=delivery, status="queued").profile_key == "2"
    assert PushSubscription.objects.get(profile_key="2").active


def test_a_web_push_endpoint_on_a_private_address_fails_that_message_only(workspace, travel, push_settings,  # noqa: F811
                                                                          web_sink, queue, sends):  # noqa: F811
    # the endpoint's host is a listed push service (127.0.0.1 in the test settings) but
    # resolves to loopback, which the platform does not call
    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna"))
    run = live_run(workspace, settings={"content": {"title": "Hi", "text": "Offers"}}, channel="push")
    queue()
    delivery = Delivery.objects.get(run=run)
    with GUARDED:
        sending.send_some(delivery.pk)
        sends()
    assert web_sink.requests == []
    failed = Message.objects.get(delivery=delivery, profile_key="1")
    assert failed.status == "failed" and "host_refused" in failed.reason + failed.error, (failed.reason, failed.error)
    assert PushSubscription.objects.get(profile_key="1").active  # the device is not the problem
    delivery.refresh_from_db()
    assert delivery.outage_since is None


def test_pinned_connections_keep_urllib3s_socket_options(settings):
    """TCP_NODELAY: without it every request written in two parts waits for a delayed ACK."""
    import socket

    from urllib3.connection import HTTPConnection

    from apps.channels.outbound import _CheckedConnection

    settings.CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS = True
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        conn = _CheckedConnection("127.0.0.1", server.getsockname()[1], socket_options=HTTPConnection.default_socket_options)
        sock = conn._new_conn()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        sock.close()
    finally:
        server.close()
