"""The SMS configuration (Twilio or Vonage): the secret is write-only and stored
encrypted, every option is checked with a precise field, and a test SMS goes through the
providers' own SDKs to a loopback server speaking their HTTP APIs."""

import json

import pytest
from django.db import connection

from apps.channels.models import ChannelConfig
from apps.tenants.models import AuditEvent
from bench.smsgateway import SmsGateway
from tests.factories import make_api_key

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-4321"
VKEY, VSECRET = "abc123key", "vonage-secret-8765"


@pytest.fixture
def gateway():
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET)) as gw:
        yield gw


@pytest.fixture
def admin_api(client, workspace):
    _, key = make_api_key(workspace, role="admin", name="admin key")

    def call(method, path, body=None):
        return client.generic(method, f"/api/v1/workspaces/{workspace.slug}/channels/sms/{path}",
                              json.dumps(body) if body is not None else "", content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {key}")
    return call


def twilio(gateway, **options):
    return {"backend": "twilio", "secret": TOKEN, "rate_per_second": 1,
            "options": {"account": SID, "sender": "+1 415 555 0100", "base_url": gateway.url,
                        "price_per_segment": 0.0079, "max_segments": 4, **options}}


def vonage(gateway, **options):
    return {"backend": "vonage", "secret": VSECRET,
            "options": {"account": VKEY, "sender_kind": "alphanumeric", "sender": "Travel", "base_url": gateway.url,
                        "default_region": "gb", **options}}


def test_before_any_configuration_nothing_is_configured(workspace, admin_api):
    body = admin_api("GET", "").json()
    assert (body["channel"], body["configured"], body["has_secret"], body["backend"]) == ("sms", False, False,
                                                                                         "twilio")


def test_twilio_configuration_keeps_the_secret_encrypted_and_normalizes_the_sender(workspace, gateway, admin_api):
    response = admin_api("PUT", "", twilio(gateway))
    assert response.status_code == 200, response.content
    body = response.json()
    assert TOKEN not in response.content.decode()
    assert body["has_secret"] is True and body["secret_hint"] == "••••••••4321"
    assert body["options"] == {"account": SID, "sender_kind": "number", "sender": "+14155550100",
                               "base_url": gateway.url, "status_callback": "", "timeout": 15.0,
                               "price_per_segment": 0.0079, "max_segments": 4, "default_region": ""}
    assert body["rate_per_second"] == 1.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM channels_channelconfig WHERE workspace_id = %s AND "
                       "channel = 'sms'", [workspace.pk])
        (stored,) = cursor.fetchone()
    assert stored and TOKEN not in stored
    assert ChannelConfig.objects.get(workspace=workspace, channel="sms").secret == TOKEN
    audit = AuditEvent.objects.filter(workspace=workspace, verb="sms configuration saved").get()
    assert TOKEN not in json.dumps(audit.data)
    # the email configuration is another row, untouched
    assert not ChannelConfig.objects.filter(workspace=workspace, channel="email").exists()


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"account": "AC123"}, "account", "the Twilio account SID: AC followed by 32 hex digits"),
    ({"sender": "12"}, "sender", "'12' is not a phone number in international form (+ and country code)"),
    ({"sender": "+1415555\r\n0100"}, "sender", "the sender holds a line break"),
    ({"sender_kind": "pool"}, "sender_kind", "one of number, messaging_service, alphanumeric"),
    ({"sender_kind": "messaging_service", "sender": "MG123"}, "sender",
     "a Twilio messaging service SID: MG followed by 32 hex digits"),
    ({"sender_kind": "alphanumeric", "sender": "TravelNews123"}, "sender",
     "an alphanumeric sender id is 1 to 11 letters, digits or spaces, with a letter"),
    ({"base_url": "ftp://x"}, "base_url", "an http(s) URL"),
    ({"max_segments": 11}, "max_segments", "from 1 to 10"),
    ({"price_per_segment": "cheap"}, "price_per_segment", "a number"),
    ({"default_region": "XX"}, "default_region", "'XX' is not a country code (ISO 3166 alpha-2, e.g. GB, US, DE)"),
    ({"api_token": "x"}, "options", "unknown SMS option(s): api_token (known: account, sender_kind, sender, "
                                    "base_url, timeout, price_per_segment, max_segments, default_region, "
                                    "status_callback, signature_method, reply_stop, reply_start, reply_help)"),
])
def test_wrong_options_are_a_400_naming_the_field_and_nothing_is_saved(workspace, gateway, admin_api, change, field,
                                                                       message):
    response = admin_api("PUT", "", twilio(gateway, **change))
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not ChannelConfig.objects.filter(workspace=workspace, channel="sms").exists()


def test_vonage_has_no_messaging_services(workspace, gateway, admin_api):
    response = admin_api("PUT", "", vonage(gateway, sender_kind="messaging_service", sender="MG" + "0" * 32))
    assert response.status_code == 400
    assert response.json() == {"sender_kind": ["Vonage has no messaging services: give a number or an alphanumeric "
                                               "sender id"]}


def test_a_test_sms_goes_through_the_twilio_sdk(workspace, gateway, admin_api):
    assert admin_api("PUT", "", twilio(gateway)).status_code == 200
    response = admin_api("POST", "test/", {"phone": "+44 7911 123456"})
    assert response.status_code == 200, response.content
    assert response.json() == {"sent": True, "via": "twilio from +14155550100 to +447911123456"}
    [sms] = gateway.messages
    assert (sms.provider, sms.to, sms.sender) == ("twilio", "+447911123456", "+14155550100")
    assert sms.body == f"Test SMS from Orchestrate ({workspace.name}): the SMS configuration works."


def test_a_test_sms_goes_through_the_vonage_sdk_with_the_default_region(workspace, gateway, admin_api):
    assert admin_api("PUT", "", vonage(gateway)).status_code == 200
    response = admin_api("POST", "test/", {"phone": "07911 123456"})  # national: read in GB
    assert response.status_code == 200, response.content
    assert response.json() == {"sent": True, "via": "vonage from Travel to +447911123456"}
    [sms] = gateway.messages
    assert (sms.provider, sms.to, sms.sender, sms.fields["type"]) == ("vonage", "447911123456", "Travel", "text")


def test_a_wrong_secret_or_number_is_reported(workspace, gateway, admin_api):
    assert admin_api("PUT", "", {**vonage(gateway), "secret": "wrong"}).status_code == 200
    response = admin_api("POST", "test/", {"phone": "+447911123456"})
    assert response.status_code == 502
    assert response.json() == {"sent": False, "error": "the provider answered 4: Sms.send_message method failed "
                                                       "with error code 4: Bad Credentials"}
    response = admin_api("POST", "test/", {"phone": "12345"})
    assert response.status_code == 400
    assert response.json() == {"phone": ["'12345': not a valid phone number"]}
    response = admin_api("POST", "test/", {})
    assert response.status_code == 400
    assert response.json() == {"phone": ["give a phone number, e.g. +447911123456"]}
    assert gateway.messages == []


def test_an_unreachable_provider_is_a_502(workspace, gateway, admin_api):
    assert admin_api("PUT", "", twilio(gateway)).status_code == 200
    gateway.down = True
    response = admin_api("POST", "test/", {"phone": "+447911123456"})
    assert response.status_code == 502
    assert response.json()["error"].startswith("the provider answered 20503")


def test_the_settings_page_saves_and_sends_a_test_sms(workspace, gateway, alice, client_for):
    client = client_for(alice)
    url = f"/w/{workspace.slug}/settings/sms/"
    page = client.get(url)
    assert page.status_code == 200 and b'id="sms-settings-form"' in page.content
    response = client.post(url, {"backend": "twilio", "account": SID, "secret": TOKEN, "sender_kind": "number",
                                 "sender": "+14155550100", "base_url": gateway.url, "price_per_segment": "0.01",
                                 "max_segments": "3", "rate_per_second": "1", "window_hours": 12,
                                 "max_attempts": 5, "chunk_size": 200, "parallel_tasks": 2})
    assert response.status_code == 302, response.content.decode()[:2000]
    config = ChannelConfig.objects.get(workspace=workspace, channel="sms")
    assert (config.backend, config.secret, config.options["max_segments"], config.rate_per_second) == (
        "twilio", TOKEN, 3, 1.0)
    assert TOKEN.encode() not in client.get(url).content
    response = client.post(url + "test/", {"phone": "+447911123456"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'id="sms-test-ok"' in response.content
    assert [m.to for m in gateway.messages] == ["+447911123456"]
    # a wrong sender is shown on its field, nothing changes
    response = client.post(url, {"backend": "twilio", "account": SID, "sender_kind": "number", "sender": "abc",
                                 "window_hours": 12, "max_attempts": 5, "chunk_size": 200, "parallel_tasks": 2})
    assert response.status_code == 422
    assert b"is not a phone number in international form" in response.content
    assert ChannelConfig.objects.get(workspace=workspace, channel="sms").options["sender"] == "+14155550100"
