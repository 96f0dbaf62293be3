"""SMS delivery receipts: a live campaign sends through the Twilio and Vonage SDKs to the
loopback gateway, which posts the providers' signed status callbacks back; messages become
delivered or bounced, a number that does not exist is suppressed like a hard bounce, and
a receipt that overtakes the provider's answer is kept and settled after the send.
Forged, unsigned, expired, malformed and cross-workspace callbacks change nothing."""

import time
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from apps.campaigns.models import ActivityRun
from apps.channels import sms_receipts
from apps.channels.models import ChannelConfig, Delivery, Message, MessageEvent, SmsReceipt
from apps.consent.models import Suppression
from bench.smsgateway import SmsGateway, sign_twilio, sign_vonage
from tests.channels.test_sending import live_run

SID, TOKEN = "AC" + "0123456789abcdef" * 2, "twilio-token"
VKEY, VSECRET, VSIGN = "abc123key", "vonage-secret", "vonage-signature-secret"
TEXT = {"content": {"text": "Hi {{ profile.first_name }}, your trip is ready"}}
ANNA, CHLOE = "+31612345678", "+33612345678"


def configure(workspace, gateway, backend="twilio", signing_secret="", **options):
    account, secret = (SID, TOKEN) if backend == "twilio" else (VKEY, VSECRET)
    config = ChannelConfig(workspace=workspace, channel="sms", backend=backend, options={
        "account": account, "sender": "+14155550100" if backend == "twilio" else "Travel",
        "sender_kind": "number" if backend == "twilio" else "alphanumeric", "base_url": gateway.url, **options})
    config.secret = secret
    config.signing_secret = signing_secret
    config.save()
    return config


def post(url, form, headers=None, method="post"):
    """What the provider posts, through the test client (the URL is on SITE_URL)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    if method == "get":
        return Client().get(path, form, **extra)
    return Client().generic(method.upper(), path, urlencode(form), content_type="application/x-www-form-urlencoded",
                            **extra)


def flush(gateway):
    statuses = []
    posts, gateway.deferred = gateway.deferred, []
    for url, form, headers in posts:
        statuses.append(post(url, form, headers).status_code)
    return statuses


def sent_run(workspace, gateway, queue, sends):
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    return delivery, {m.address: m for m in Message.objects.filter(delivery=delivery).exclude(status="excluded")}


def events(message):
    return sorted(MessageEvent.objects.filter(message=message).values_list("type", flat=True))


@pytest.fixture
def gateway():
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET), receipts="deferred",
                    vonage_signing=(VSIGN, "sha256")) as gw:
        yield gw


def test_twilio_receipts_deliver_and_bounce_and_the_bounced_number_is_suppressed(workspace, travel, gateway,
                                                                                   queue, sends):
    configure(workspace, gateway)
    gateway.fail(CHLOE, twilio=30006)  # a landline
    delivery, messages = sent_run(workspace, gateway, queue, sends)
    # the callback URL is our endpoint on SITE_URL, with our message id
    anna = messages[ANNA]
    assert {m.callback for m in gateway.messages if m.to == ANNA} == {
        f"http://127.0.0.1:8000/webhooks/sms/twilio/{workspace.slug}/status/?message={anna.pk}"}
    assert flush(gateway) == [200, 200, 200, 200]  # sent + delivered, sent + undelivered
    anna.refresh_from_db()
    chloe = Message.objects.get(pk=messages[CHLOE].pk)
    assert (anna.status, events(anna)) == ("sent", ["delivered"])
    assert (chloe.status, chloe.reason, events(chloe)) == ("failed", "bounced", ["bounced"])
    assert "30006" in chloe.error
    assert Suppression.objects.filter(workspace=workspace, kind="phone", value=CHLOE, reason="hard_bounce").exists()
    assert not Suppression.objects.filter(workspace=workspace, kind="phone", value=ANNA).exists()
    assert sorted(SmsReceipt.objects.filter(message=anna).values_list("status", flat=True)) == ["delivered", "sent"]
    # the next campaign does not text the landline
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    assert ActivityRun.objects.get(run=run, node_id="mail").report["excluded"] == {"no_address": 1, "suppressed": 1}


def test_vonage_signed_receipts_deliver_bounce_and_soft_bounce(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway, backend="vonage", signing_secret=VSIGN, signature_method="sha256")
    gateway.fail(CHLOE, vonage="9")  # illegal number: permanent
    delivery, messages = sent_run(workspace, gateway, queue, sends)
    posts = list(gateway.deferred)
    assert all(url == f"http://127.0.0.1:8000/webhooks/sms/vonage/{workspace.slug}/status/" for url, *_ in posts)
    assert all("sig" in form and form["client-ref"] for _url, form, _h in posts)
    assert flush(gateway) == [200, 200]
    anna, chloe = (Message.objects.get(pk=messages[n].pk) for n in (ANNA, CHLOE))
    assert events(anna) == ["delivered"] and anna.status == "sent"
    assert (chloe.status, chloe.reason, events(chloe)) == ("failed", "bounced", ["bounced"])
    assert Suppression.objects.filter(workspace=workspace, kind="phone", value=CHLOE).exists()


def test_a_temporary_failure_is_a_soft_bounce_and_suppresses_nothing(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway, backend="vonage", signing_secret=VSIGN, signature_method="sha256")
    gateway.fail(CHLOE, vonage="2")  # absent subscriber, temporary
    _delivery, messages = sent_run(workspace, gateway, queue, sends)
    flush(gateway)
    chloe = Message.objects.get(pk=messages[CHLOE].pk)
    assert (chloe.status, chloe.reason, events(chloe)) == ("failed", "undelivered", ["soft_bounced"])
    assert not Suppression.objects.filter(workspace=workspace, kind="phone").exists()


def test_a_repeated_or_late_receipt_changes_nothing_more(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    _delivery, messages = sent_run(workspace, gateway, queue, sends)
    posts = list(gateway.deferred)
    flush(gateway)
    anna = messages[ANNA]
    late_sent = next(p for p in posts if p[1]["To"] == ANNA and p[1]["MessageStatus"] == "sent")
    delivered = next(p for p in posts if p[1]["To"] == ANNA and p[1]["MessageStatus"] == "delivered")
    assert post(*delivered).content == b"recorded"  # posted again
    assert post(*late_sent).content == b"recorded"  # "sent" after "delivered": no step back
    anna.refresh_from_db()
    assert (anna.status, events(anna)) == ("sent", ["delivered"])


def test_vonage_md5hash_signatures_are_checked_too(workspace, travel, queue, sends):
    with SmsGateway(vonage=(VKEY, VSECRET), receipts="deferred", vonage_signing=(VSIGN, "md5hash")) as gw:
        configure(workspace, gw, backend="vonage", signing_secret=VSIGN)  # md5hash: Vonage's default
        _delivery, messages = sent_run(workspace, gw, queue, sends)
        assert flush(gw) == [200, 200]
    assert events(Message.objects.get(pk=messages[ANNA].pk)) == ["delivered"]


def test_a_receipt_that_overtakes_the_send_is_settled_when_the_result_is_recorded(workspace, travel, gateway,
                                                                                    queue, sends):
    configure(workspace, gateway)
    gateway.fail(CHLOE, twilio=21614)  # not a mobile number
    delivery, messages = sent_run(workspace, gateway, queue, sends)
    chloe = messages[CHLOE]
    provider_id = chloe.provider_id
    # as if the receipt came while the message was being handed over
    Message.objects.filter(pk=chloe.pk).update(status="sending", provider_id="")
    url, form, headers = next(p for p in gateway.deferred if p[1]["To"] == CHLOE and p[1]["MessageStatus"] == "failed")
    response = post(url, form, headers)
    assert (response.status_code, response.content) == (200, b"pending")
    assert events(chloe) == [] and not Suppression.objects.filter(value=CHLOE).exists()
    Message.objects.filter(pk=chloe.pk).update(status="sent", provider_id=provider_id)
    assert sms_receipts.settle(delivery.pk) == 1
    chloe.refresh_from_db()
    assert (chloe.status, events(chloe)) == ("failed", ["bounced"])
    assert Suppression.objects.filter(workspace=workspace, kind="phone", value=CHLOE).exists()
    assert SmsReceipt.objects.get(message=chloe, status="failed").settled_at is not None


def test_a_receipt_of_a_send_that_was_taken_over_is_closed_unmatched(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    delivery, messages = sent_run(workspace, gateway, queue, sends)
    anna = messages[ANNA]
    Message.objects.filter(pk=anna.pk).update(status="sending", provider_id="")
    url, form, headers = next(p for p in gateway.deferred if p[1]["To"] == ANNA and p[1]["MessageStatus"] == "delivered")
    assert post(url, form, headers).content == b"pending"
    Message.objects.filter(pk=anna.pk).update(status="sent", provider_id="SM" + "f" * 32)  # sent again meanwhile
    assert sms_receipts.settle(delivery.pk) == 0
    assert events(anna) == [] and SmsReceipt.objects.get(message=anna).outcome == "unmatched"


# --- refused callbacks: nothing changes, never a 500 ---

@pytest.fixture
def twilio_sent(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    _delivery, messages = sent_run(workspace, gateway, queue, sends)
    url, form, headers = next(p for p in gateway.deferred if p[1]["To"] == ANNA and p[1]["MessageStatus"] == "delivered")
    return messages[ANNA], url, form, headers


def assert_unchanged(message):
    assert events(message) == [] and not SmsReceipt.objects.filter(message=message).exists()
    message.refresh_from_db()
    assert message.status == "sent"


def test_forged_unsigned_and_tampered_twilio_callbacks_are_refused(twilio_sent):
    message, url, form, headers = twilio_sent
    assert post(url, form).status_code == 403  # unsigned
    assert post(url, form, {"X-Twilio-Signature": sign_twilio(url, form, "not-the-token")}).status_code == 403
    tampered = {**form, "MessageStatus": "undelivered", "ErrorCode": "30006"}
    assert post(url, tampered, headers).status_code == 403
    other_message = url.replace(f"message={message.pk}", f"message={message.pk + 1}")
    assert post(other_message, form, headers).status_code == 403  # the URL is signed too
    assert_unchanged(message)


def test_wrong_methods_unknown_workspaces_and_malformed_bodies(workspace, twilio_sent):
    message, url, form, headers = twilio_sent
    path = urlsplit(url).path
    assert post(url, form, headers, method="get").status_code == 405
    assert post(url.replace(workspace.slug, "nowhere"), form, headers).status_code == 404
    assert post(url.replace("/twilio/", "/vonage/"), form, headers).status_code == 404  # not its provider
    assert post(url.replace("/twilio/", "/plivo/"), form, headers).status_code == 404
    # signed, but without what a receipt carries: 400 naming the field
    partial = {k: v for k, v in form.items() if k not in ("MessageSid", "SmsSid")}
    response = post(url, partial, {"X-Twilio-Signature": sign_twilio(url, partial, TOKEN)})
    assert (response.status_code, response.content) == (400, b"Malformed receipt: MessageSid is missing.")
    no_id = f"http://127.0.0.1:8000{path}?message=abc"
    response = post(no_id, form, {"X-Twilio-Signature": sign_twilio(no_id, form, TOKEN)})
    assert response.status_code == 400 and b"message" in response.content
    response = Client().post(path, b"\xff\xfe{", content_type="application/json",
                             HTTP_X_TWILIO_SIGNATURE=headers["X-Twilio-Signature"])
    assert response.status_code == 400
    assert Client().post(path, "x", content_type="text/plain").status_code == 400
    assert_unchanged(message)


@pytest.fixture
def vonage_sent(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway, backend="vonage", signing_secret=VSIGN, signature_method="sha256")
    _delivery, messages = sent_run(workspace, gateway, queue, sends)
    received = next(m for m in gateway.messages if m.to == ANNA[1:])
    return messages[ANNA], received, gateway


def vonage_url(workspace):
    return f"http://127.0.0.1:8000/webhooks/sms/vonage/{workspace.slug}/status/"


def test_unsigned_forged_and_expired_vonage_receipts_are_refused(workspace, vonage_sent):
    message, received, gateway = vonage_sent
    url = vonage_url(workspace)
    good = gateway.vonage_receipt(received)
    unsigned = {k: v for k, v in good.items() if k not in ("sig", "timestamp", "nonce")}
    assert post(url, unsigned).status_code == 403
    forged = {**good, "sig": sign_vonage({k: v for k, v in good.items() if k != "sig"}, "guess", "sha256")}
    assert post(url, forged).status_code == 403
    assert post(url, {**good, "status": "failed", "err-code": "9"}).status_code == 403  # tampered
    old = gateway.vonage_receipt(received, stamp=int(time.time()) - 301)
    response = post(url, old)
    assert response.status_code == 403 and b"5 minutes" in response.content
    assert post(url, good, method="put").status_code == 405
    assert_unchanged(message)
    # Vonage may be set to GET its receipts: the same signed parameters in the query work
    assert (post(url, good, method="get").status_code, events(message)) == (200, ["delivered"])


def test_vonage_without_a_signature_secret_has_no_receipt_endpoint(workspace, vonage_sent):
    message, received, gateway = vonage_sent
    ChannelConfig.objects.filter(workspace=workspace, channel="sms").update(signing_secret_encrypted="")
    assert post(vonage_url(workspace), gateway.vonage_receipt(received)).status_code == 404
    assert_unchanged(message)


def test_another_workspaces_callback_url_with_our_message_id_changes_nothing(workspace, other_workspace, twilio_sent,
                                                                              gateway):
    message, url, form, headers = twilio_sent
    other_token = "the-other-workspaces-token"
    other = ChannelConfig(workspace=other_workspace, channel="sms", backend="twilio",
                          options={"account": SID, "sender": "+14155550199", "base_url": gateway.url})
    other.secret = other_token
    other.save()
    theirs = url.replace(f"/{workspace.slug}/", f"/{other_workspace.slug}/")
    # signed with their own token (they own that URL): no message of theirs has that id
    response = post(theirs, form, {"X-Twilio-Signature": sign_twilio(theirs, form, other_token)})
    assert (response.status_code, response.content) == (200, b"unknown")
    # our signature replayed on their URL: refused
    assert post(theirs, form, {"X-Twilio-Signature": sign_twilio(theirs, form, TOKEN)}).status_code == 403
    assert post(theirs, form, headers).status_code == 403
    assert_unchanged(message)
    # the provider id or the recipient of another message is not enough either
    wrong_to = {**form, "To": CHLOE}
    response = post(url, wrong_to, {"X-Twilio-Signature": sign_twilio(url, wrong_to, TOKEN)})
    assert response.content == b"unknown"
    assert_unchanged(message)


# --- end to end over HTTP: the gateway posts the receipts to a running server ---

def wait_for(gateway, count, seconds=15):
    deadline = time.monotonic() + seconds
    while len(gateway.callbacks) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(status, body) for _url, _form, status, body in gateway.callbacks]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend, mode", [("twilio", "after"), ("vonage", "before")])
def test_receipts_posted_over_http_settle_every_message(live_server, settings, workspace, travel, queue, sends,
                                                         backend, mode):
    """"after": the receipts race the recording of the send; "before": each receipt comes
    before the provider's answer, so it is kept and settled when the chunk is recorded."""
    settings.SITE_URL = live_server.url
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET), receipts=mode,
                    vonage_signing=(VSIGN, "sha512")) as gw:
        configure(workspace, gw, backend=backend, signing_secret=VSIGN,
                  **({"signature_method": "sha512"} if backend == "vonage" else {}))
        gw.fail(CHLOE, twilio=30005, vonage="3")  # unknown number / absent subscriber for good
        _delivery, messages = sent_run(workspace, gw, queue, sends)
        posted = wait_for(gw, 4 if backend == "twilio" else 2)
    assert {status for status, _body in posted} == {200}, posted
    if mode == "before":
        assert {body for _status, body in posted} == {"pending"}
    anna, chloe = (Message.objects.get(pk=messages[n].pk) for n in (ANNA, CHLOE))
    assert (anna.status, events(anna)) == ("sent", ["delivered"])
    assert (chloe.status, chloe.reason, events(chloe)) == ("failed", "bounced", ["bounced"])
    assert Suppression.objects.filter(workspace=workspace, kind="phone", value=CHLOE, reason="hard_bounce").exists()
    assert not SmsReceipt.objects.filter(message__in=[anna, chloe], settled_at__isnull=True).exists()


# --- the signature secret, the signature method and the receipt URL in the SMS settings ---

@pytest.fixture
def admin_api(workspace):
    import json

    from tests.factories import make_api_key

    _, key = make_api_key(workspace, role="admin", name="sms admin key")

    def call(method, body=None, slug=None, bearer=None):
        return Client().generic(method, f"/api/v1/workspaces/{slug or workspace.slug}/channels/sms/",
                                json.dumps(body) if body is not None else "", content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {bearer or key}")
    return call


def vonage_body(gateway, **extra):
    return {"backend": "vonage", "secret": VSECRET, "options": {
        "account": VKEY, "sender_kind": "alphanumeric", "sender": "Travel", "base_url": gateway.url,
        "signature_method": "sha256", "reply_stop": "{workspace}: stopped."}, **extra}


def test_the_api_keeps_the_signature_secret_write_only_and_gives_the_receipt_url(workspace, gateway, admin_api):
    response = admin_api("PUT", vonage_body(gateway, signing_secret=VSIGN))
    assert response.status_code == 200, response.content
    body = response.json()
    assert VSIGN not in response.content.decode()
    assert body["has_signing_secret"] is True
    assert body["status_webhook"] == f"http://127.0.0.1:8000/webhooks/sms/vonage/{workspace.slug}/status/"
    assert body["options"]["signature_method"] == "sha256" and body["options"]["reply_stop"] == "{workspace}: stopped."
    config = ChannelConfig.objects.get(workspace=workspace, channel="sms")
    assert config.signing_secret == VSIGN and VSIGN not in config.signing_secret_encrypted
    # left out: kept; cleared on demand
    assert admin_api("PUT", vonage_body(gateway)).json()["has_signing_secret"] is True
    assert admin_api("PUT", vonage_body(gateway, clear_signing_secret=True)).json()["has_signing_secret"] is False
    from apps.tenants.models import AuditEvent

    assert VSIGN not in str(list(AuditEvent.objects.filter(workspace=workspace).values_list("data", flat=True)))


@pytest.mark.parametrize("change, field", [
    ({"options": {"signature_method": "crc32"}}, "signature_method"),
    ({"options": {"reply_help": "x" * 321}}, "reply_help"),
    ({"signing_secret": "two\nlines"}, "signing_secret"),
])
def test_wrong_signature_settings_are_a_400_naming_the_field(workspace, gateway, admin_api, change, field):
    body = vonage_body(gateway)
    body = {**body, **change, "options": {**body["options"], **change.get("options", {})}}
    response = admin_api("PUT", body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert not ChannelConfig.objects.filter(workspace=workspace, channel="sms").exists()


def test_twilio_has_no_signature_method(workspace, gateway, admin_api):
    response = admin_api("PUT", {"backend": "twilio", "secret": TOKEN, "options": {
        "account": SID, "sender": "+14155550100", "signature_method": "sha256"}})
    assert response.status_code == 400 and "signature_method" in response.json()


def test_the_settings_page_shows_the_receipt_url_and_saves_the_signature_secret(workspace, gateway, alice,
                                                                                 client_for):
    client = client_for(alice)
    url = f"/w/{workspace.slug}/settings/sms/"
    response = client.post(url, {"backend": "vonage", "account": VKEY, "secret": VSECRET,
                                 "sender_kind": "alphanumeric", "sender": "Travel", "signing_secret": VSIGN,
                                 "signature_method": "sha512", "reply_help": "Call us", "window_hours": 12,
                                 "max_attempts": 5, "chunk_size": 200, "parallel_tasks": 2})
    assert response.status_code == 302, response.content.decode()[:2000]
    config = ChannelConfig.objects.get(workspace=workspace, channel="sms")
    assert (config.signing_secret, config.options["signature_method"], config.options["reply_help"]) == (
        VSIGN, "sha512", "Call us")
    page = client.get(url).content.decode()
    assert (f'<code id="sms-status-webhook">http://127.0.0.1:8000/webhooks/sms/vonage/{workspace.slug}/status/'
            '</code>') in page
    assert "A signature secret is stored." in page and VSIGN not in page


def test_an_outsider_sees_nothing_of_the_sms_settings(workspace, other_workspace, gateway, admin_api, charlie,
                                                      client_for):
    from tests.factories import make_api_key

    admin_api("PUT", vonage_body(gateway, signing_secret=VSIGN))
    _, their_key = make_api_key(other_workspace, role="admin", name="their key")
    assert admin_api("GET", slug=workspace.slug, bearer=their_key).status_code in (403, 404)
    response = client_for(charlie).get(f"/w/{workspace.slug}/settings/sms/")
    assert response.status_code == 404 and VSIGN.encode() not in response.content
    # their own page shows their own (empty) state
    theirs = admin_api("GET", slug=other_workspace.slug, bearer=their_key).json()
    assert (theirs["configured"], theirs["has_signing_secret"], theirs["status_webhook"]) == (False, False, "")
