"""Inbound STOP/START/HELP once the workspace has an SMS provider: the provider's own
signature is required on top of the URL secret (Twilio's X-Twilio-Signature, Vonage's
signed `sig`), and the confirmation goes back through the provider: TwiML for Twilio, an
SMS sent through Vonage's API by the SDK. The loopback gateway posts what the providers
post; unsigned, forged, expired and other workspaces' signatures change nothing."""

import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from apps.channels.models import ChannelConfig
from apps.consent import services
from apps.consent.inbound import current_secret
from apps.consent.models import ConsentEvent, Suppression, Topic
from bench.smsgateway import SmsGateway, sign_twilio

SID, TOKEN = "AC" + "0123456789abcdef" * 2, "twilio-token"
VKEY, VSECRET, VSIGN = "abc123key", "vonage-secret", "vonage-signature-secret"
ANNA = "+31612345678"
OUR_NUMBER = "+14155550100"


@pytest.fixture
def gateway():
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET), vonage_signing=(VSIGN, "sha1")) as gw:
        yield gw


@pytest.fixture
def texts(workspace, travel):
    topic = Topic.objects.create(workspace=workspace, key="texts", name="Text alerts", channel="sms", policy="opt_in")
    services.consent_record(workspace=workspace, profile_key="1", topic=topic, granted=True, source="api")
    return topic


def configure(workspace, gateway, backend, signing_secret="", **options):
    account, secret = (SID, TOKEN) if backend == "twilio" else (VKEY, VSECRET)
    config = ChannelConfig(workspace=workspace, channel="sms", backend=backend, options={
        "account": account, "sender": OUR_NUMBER, "sender_kind": "number", "base_url": gateway.url, **options})
    config.secret = secret
    config.signing_secret = signing_secret
    config.save()
    return config


def public_url(workspace):
    return f"http://127.0.0.1:8000/inbound/sms/{workspace.slug}/{current_secret(workspace)}"


def send(url, form, headers=None):
    path = url.removeprefix("http://127.0.0.1:8000")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return Client().post(path, urlencode(form), content_type="application/x-www-form-urlencoded", **extra)


def subscribed(workspace, topic, key="1"):
    return services.consent_state(workspace=workspace, profile_key=key, topic=topic)


def test_a_signed_twilio_stop_withdraws_and_answers_with_twiml(workspace, texts, gateway):
    configure(workspace, gateway, "twilio")
    url = public_url(workspace)
    response = send(url, *gateway.inbound_request("twilio", url, ANNA, "STOP"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Northwind: you are unsubscribed and will get no '
        'more messages. Reply START to subscribe again.</Message></Response>')
    assert not subscribed(workspace, texts)
    assert ConsentEvent.objects.filter(topic=texts, source="inbound_sms", granted=False).count() == 1


def test_start_and_help_replies_are_the_workspaces_own(workspace, texts, gateway):
    configure(workspace, gateway, "twilio", reply_start="{workspace}: welcome back!", reply_help="Call 0800 123")
    url = public_url(workspace)
    send(url, *gateway.inbound_request("twilio", url, ANNA, "stop"))
    response = send(url, *gateway.inbound_request("twilio", url, ANNA, "Start"))
    assert b"<Message>Northwind: welcome back!</Message>" in response.content
    assert subscribed(workspace, texts)
    assert b"<Message>Call 0800 123</Message>" in send(url, *gateway.inbound_request("twilio", url, ANNA,
                                                                                     "HELP")).content
    # a text that is no keyword gets no reply
    assert send(url, *gateway.inbound_request("twilio", url, ANNA, "thanks")).content.endswith(b"<Response />")


def test_unsigned_and_forged_twilio_messages_are_refused(workspace, texts, gateway):
    configure(workspace, gateway, "twilio")
    url = public_url(workspace)
    form, _headers = gateway.inbound_request("twilio", url, ANNA, "STOP", signed=False)
    assert send(url, form).status_code == 403
    assert send(url, form, {"X-Twilio-Signature": sign_twilio(url, form, "a-guess")}).status_code == 403
    signed, headers = gateway.inbound_request("twilio", url, "+33612345678", "STOP")
    assert send(url, {**signed, "From": ANNA}, headers).status_code == 403  # another number, same signature
    # the URL secret is still checked first
    wrong = url.rsplit("/", 1)[0] + "/not-the-secret"
    assert send(wrong, *gateway.inbound_request("twilio", wrong, ANNA, "STOP")).status_code == 404
    assert subscribed(workspace, texts)
    assert not Suppression.objects.filter(workspace=workspace).exists()


def test_a_signed_vonage_stop_withdraws_and_the_reply_goes_through_the_sdk(workspace, texts, gateway):
    configure(workspace, gateway, "vonage", signing_secret=VSIGN, signature_method="sha1")
    url = public_url(workspace)
    response = send(url, *gateway.inbound_request("vonage", url, ANNA, "STOP please", to="+447700900777"))
    assert response.status_code == 200
    body = response.json()
    assert (body["action"], body["profiles"], body["reply_sent"]) == ("stop", 1, True)
    assert not subscribed(workspace, texts)
    [reply] = gateway.messages
    assert (reply.provider, reply.to, reply.sender) == ("vonage", ANNA[1:], "447700900777")
    assert reply.body == body["reply"] == ("Northwind: you are unsubscribed and will get no more messages. "
                                           "Reply START to subscribe again.")


def test_unsigned_forged_and_expired_vonage_messages_are_refused(workspace, texts, gateway):
    configure(workspace, gateway, "vonage", signing_secret=VSIGN, signature_method="sha1")
    url = public_url(workspace)
    unsigned, _ = gateway.inbound_request("vonage", url, ANNA, "STOP", signed=False)
    assert send(url, unsigned).status_code == 403
    signed, _ = gateway.inbound_request("vonage", url, ANNA, "STOP")
    assert send(url, {**signed, "text": "START"}).status_code == 403
    gateway.vonage_signing = (VSIGN, "sha1")
    stale = gateway.vonage_signed(unsigned, int(time.time()) - 600)
    response = send(url, stale)
    assert response.status_code == 403 and "5 minutes" in response.json()["error"]
    gateway.vonage_signing = ("another-secret", "sha1")
    assert send(url, gateway.inbound_request("vonage", url, ANNA, "STOP")[0]).status_code == 403
    assert subscribed(workspace, texts) and gateway.messages == []


def test_vonage_without_a_signature_secret_refuses_inbound_messages(workspace, texts, gateway):
    configure(workspace, gateway, "vonage")
    url = public_url(workspace)
    response = send(url, *gateway.inbound_request("vonage", url, ANNA, "STOP"))
    assert response.status_code == 403 and "signature secret" in response.json()["error"]
    assert subscribed(workspace, texts)


def test_a_message_signed_for_another_workspace_changes_nothing(workspace, other_workspace, texts, gateway):
    configure(workspace, gateway, "twilio")
    theirs = ChannelConfig(workspace=other_workspace, channel="sms", backend="twilio",
                           options={"account": SID, "sender": OUR_NUMBER, "base_url": gateway.url})
    theirs.secret = "their-own-token"
    theirs.save()
    ours, their_url = public_url(workspace), public_url(other_workspace)
    form, headers = gateway.inbound_request("twilio", ours, ANNA, "STOP")
    assert send(their_url, form, headers).status_code == 403  # our signature on their URL
    form, headers = gateway.inbound_request("twilio", their_url, ANNA, "STOP")  # signed with our token
    assert send(their_url, form, headers).status_code == 403
    assert subscribed(workspace, texts)
    assert not ConsentEvent.objects.filter(workspace=other_workspace).exists()


def test_without_a_provider_the_url_secret_alone_still_works(workspace, texts):
    response = Client().post(public_url(workspace).removeprefix("http://127.0.0.1:8000"),
                             {"from": ANNA, "body": "STOP"})
    assert response.status_code == 200 and response.json()["action"] == "stop"
    assert "unsubscribed" in response.json()["reply"]
    assert not subscribed(workspace, texts)


def test_vonage_post_json_inbound_is_signed_the_same_way_and_junk_is_a_400(workspace, texts, gateway):
    import json

    configure(workspace, gateway, "vonage", signing_secret=VSIGN, signature_method="sha1")
    path = public_url(workspace).removeprefix("http://127.0.0.1:8000")
    form, _ = gateway.inbound_request("vonage", public_url(workspace), ANNA, "STOP")
    response = Client().post(path, json.dumps(form), content_type="application/json")
    assert response.status_code == 200 and response.json()["action"] == "stop"
    assert not subscribed(workspace, texts)
    for junk in (b"{not json", b"[1, 2]", b'{"msisdn": {"nested": 1}}', b"\xff\xfe"):
        response = Client().post(path, junk, content_type="application/json")
        assert response.status_code == 400 and "JSON" in response.json()["error"]
