"""A Web Push message is built (encrypted, signed) while the previous message's result
commits, but its request leaves only after the sender's wait (the gate) returned: at most
one result is ever unrecorded. The VAPID token is signed once per push service, not per
message, and stays a valid RFC 8292 signature."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.channels import devices, push_config
from apps.channels.models import Delivery, PushSubscription
from apps.channels.providers import Outgoing, Permanent
from apps.channels.providers.push import PushProvider
from bench.pushsink import WebPushSink, b64decode, vapid_parts, verify_jwt
from tests.channels.test_push_sending import Browser


def _provider(workspace, sink, count):
    config = push_config.push_config_save(workspace=workspace, actor=None, generate_vapid=True,
                                          options={"vapid_subject": "mailto:ops@travel.test"})
    subs = [devices.push_subscription_register(
        workspace=workspace, profile_key=str(i), platform="web",
        subscription=Browser().subscription(f"{sink.url}/push/{i}"))[0] for i in range(count)]
    delivery = Delivery(workspace=workspace, channel="push", content={"title": "Hi", "text": "Spring offers"})
    items = [Outgoing(id=i + 1, address=str(sub.pk), message_id=f"<m{i}@travel.test>",
                      fields={"title": "Hi", "text": "Spring offers"}, context={}) for i, sub in enumerate(subs)]
    return PushProvider(delivery, config), items, config


def test_each_web_push_request_leaves_only_after_the_previous_result_is_recorded(workspace):
    with WebPushSink() as sink:
        provider, items, _config = _provider(workspace, sink, 3)
        provider.prepare(items)
        seen_at_gate = []

        def gate():  # the sender's wait: what the push service has received at that moment
            seen_at_gate.append(sink.count)

        for item in items:
            provider.send_gated(item, gate)
        provider.close()
    # one wait per message, each before that message's request reached the service
    assert seen_at_gate == [0, 1, 2]
    assert sink.count == 3


def test_the_vapid_token_is_signed_once_per_push_service_and_verifies(workspace):
    with WebPushSink() as sink:
        provider, items, config = _provider(workspace, sink, 3)
        provider.prepare(items)
        for item in items:
            provider.send_gated(item, lambda: None)
        provider.close()
        headers = [seen.headers["authorization"] for seen in sink.requests]
    assert len(set(headers[1:])) == 1  # the first message made the session; the next ones share a token
    for header in headers:
        token, key = vapid_parts(header)
        assert key == config.options["vapid_public_key"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(key))
        _head, claims = verify_jwt(token, public, "ES256")
        assert claims["aud"] == sink.url and claims["sub"] == "mailto:ops@travel.test"


def test_a_device_unregistered_before_its_chunk_is_not_sent_and_the_gate_is_not_passed(workspace):
    with WebPushSink() as sink:
        provider, items, _config = _provider(workspace, sink, 2)
        devices.push_subscription_deactivate(subscription=PushSubscription.objects.get(pk=int(items[1].address)),
                                             reason="app uninstalled")
        provider.prepare(items)  # the chunk's devices, read once
        provider.send_gated(items[0], lambda: None)
        gates = []
        with pytest.raises(Permanent) as refused:
            provider.send_gated(items[1], lambda: gates.append(1))
        provider.close()
    assert refused.value.code == "unregistered"
    assert sink.count == 1 and gates == []


def test_a_gated_session_still_goes_through_the_environments_proxy(monkeypatch):
    import requests

    from apps.channels.providers.gate import gate_session

    with WebPushSink() as sink:
        session = requests.Session()
        gate_session(session)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        with pytest.raises(requests.exceptions.ProxyError):
            session.post(f"{sink.url}/push/a", data=b"x", timeout=5)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        other = requests.Session()
        gate_session(other)
        assert other.post(f"{sink.url}/push/b", data=b"x", timeout=5).status_code == 400  # reached: no VAPID
