"""Delivery reports from email services, through django-anymail's webhooks (Postmark's
payloads: one JSON object per post, basic auth with the webhook secret)."""

import base64
import json

import pytest
from django.test import Client, override_settings

from apps.channels import events
from apps.channels.models import Message, MessageEvent
from tests.channels.delivery_rows import make_delivery

SECRET = "hooks:s3cret-for-tests"
URL = "/webhooks/anymail/postmark/tracking/"


@pytest.fixture(autouse=True)
def secret():
    with override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET}, EMAIL_WEBHOOK_ESPS=["postmark"]):
        yield


@pytest.fixture
def message(workspace):
    delivery = make_delivery(workspace, statuses={"sent": 1})
    message = Message.objects.get(delivery=delivery)
    Message.objects.filter(pk=message.pk).update(provider_id="883953f4-6105-42a2-a16a-77a8eac79483")
    message.refresh_from_db()
    return message


def _meta(message):
    return {"message_id": str(message.pk), "delivery_id": str(message.delivery_id)}


def _post(payload, auth=SECRET):
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return Client().post(URL, json.dumps(payload), content_type="application/json", **headers)


def hard_bounce(message, **extra):
    return {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
            "Name": "Hard bounce", "Tag": "", "MessageID": message.provider_id, "Metadata": _meta(message),
            "ServerID": 23, "MessageStream": "outbound",
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": message.address, "From": "news@travel.test", "BouncedAt": "2026-11-05T16:33:54.9070259Z",
            "DumpAvailable": True, "Inactive": True, "CanActivate": True, "Subject": "Hello", **extra}


def test_a_hard_bounce_fails_the_message_with_the_reason_and_reaches_the_hooks(message, monkeypatch):
    seen = []
    monkeypatch.setattr(events, "EVENT_HOOKS", [lambda event, msg: seen.append((event.type, msg.pk, msg.status))])
    response = _post(hard_bounce(message))
    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "bounced")
    assert message.error == ("The server was unable to deliver your message (ex: unknown user, mailbox not found). "
                             "(smtp;550 5.1.1 The email account that you tried to reach does not exist.)")
    event = MessageEvent.objects.get(message=message)
    assert event.type == "bounced" and event.workspace_id == message.workspace_id
    assert event.data["esp"] == "Postmark" and event.data["event_id"] == "4323372036854775807"
    assert event.data["reject_reason"] == "bounced" and event.data["recipient"] == message.address
    assert seen == [("bounced", message.pk, "failed")]


def test_the_same_report_posted_twice_is_kept_once(message):
    assert _post(hard_bounce(message)).status_code == 200
    assert _post(hard_bounce(message)).status_code == 200
    assert MessageEvent.objects.filter(message=message).count() == 1


@pytest.mark.parametrize("payload,kind", [
    (lambda m: {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound", "MessageID": m.provider_id,
                "Recipient": m.address, "Tag": "", "DeliveredAt": "2026-11-05T16:33:54Z",
                "Details": "Test delivery webhook details", "Metadata": _meta(m)}, "delivered"),
    (lambda m: {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "TypeCode": 512,
                "MessageID": m.provider_id, "Email": m.address, "BouncedAt": "2026-11-05T16:33:54Z",
                "Description": "complaint", "Details": "", "Metadata": _meta(m)}, "complained"),
    (lambda m: {"RecordType": "Bounce", "ID": 43, "Type": "Transient", "TypeCode": 2, "MessageID": m.provider_id,
                "Email": m.address, "BouncedAt": "2026-11-05T16:33:54Z", "Description": "mailbox full",
                "Details": "smtp;452 4.2.2 over quota", "Metadata": _meta(m)}, "soft_bounced"),
    (lambda m: {"RecordType": "Open", "FirstOpen": True, "Recipient": m.address, "MessageID": m.provider_id,
                "ReceivedAt": "2026-11-05T16:33:54Z", "UserAgent": "Mozilla/5.0", "Metadata": _meta(m)}, "open"),
    (lambda m: {"RecordType": "Click", "Recipient": m.address, "MessageID": m.provider_id,
                "ReceivedAt": "2026-11-05T16:33:54Z", "OriginalLink": "https://travel.test/offers",
                "ClickLocation": "HTML", "Metadata": _meta(m)}, "click"),
])
def test_other_reports_are_recorded_and_leave_the_message_sent(message, payload, kind):
    assert _post(payload(message)).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"
    event = MessageEvent.objects.get(message=message)
    assert event.type == kind
    if kind == "click":
        assert event.data["url"] == "https://travel.test/offers"


def test_without_metadata_the_message_is_found_by_the_providers_id(message):
    payload = hard_bounce(message)
    payload["Metadata"] = {}
    assert _post(payload).status_code == 200
    assert Message.objects.get(pk=message.pk).status == "failed"


def test_a_post_without_the_secret_is_refused_with_401_and_changes_nothing(message):
    for auth in (None, "hooks:wrong"):
        response = _post(hard_bounce(message), auth=auth)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="webhooks"'
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert not MessageEvent.objects.exists()


def test_credentials_are_checked_before_the_body_is_read(db):
    response = Client().post(URL, "junk", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("body", ["junk", "[]", "[1, 2]", '"text"', "", b"\xff\xfe{}", "[" * 5000])
def test_a_junk_body_with_the_right_secret_is_a_400(body, message):
    auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
    response = Client().post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 400, response.content
    assert response.content == b"This is not a Postmark tracking webhook body."
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize("url", ["/webhooks/anymail/sendgrid/tracking/", "/webhooks/anymail/mailgun/tracking/",
                                 "/webhooks/anymail/mandrill/tracking/", "/webhooks/anymail/postmark/inbound/",
                                 "/webhooks/anymail/mandrill/", "/webhooks/anymail/nosuchesp/tracking/"])
def test_only_the_configured_services_webhook_exists(url, message):
    auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
    for body in ("junk", json.dumps(hard_bounce(message))):
        response = Client().post(url, body, content_type="application/json", HTTP_AUTHORIZATION=auth)
        assert response.status_code == 404, url
    assert not MessageEvent.objects.exists()


def test_a_configured_service_whose_signing_key_is_missing_is_a_404_not_a_500(message):
    auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
    with override_settings(EMAIL_WEBHOOK_ESPS=["mailgun"]):
        response = Client().post("/webhooks/anymail/mailgun/tracking/", "{}", content_type="application/json",
                                 HTTP_AUTHORIZATION=auth)
    assert response.status_code == 404


def test_without_a_configured_secret_no_webhook_exists(message):
    with override_settings(ANYMAIL={}):
        response = _post(hard_bounce(message), auth=None)
    assert response.status_code == 404
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert not MessageEvent.objects.exists()


def test_a_report_naming_a_message_and_someone_elses_address_is_ignored(message, workspace):
    other = Message.objects.get(delivery=make_delivery(workspace, statuses={"sent": 1}))
    payload = hard_bounce(message, Email=other.address)
    assert _post(payload).status_code == 200
    payload = hard_bounce(message, Metadata={"message_id": str(message.pk), "delivery_id": str(other.delivery_id)})
    assert _post(payload).status_code == 200
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert not MessageEvent.objects.exists()
