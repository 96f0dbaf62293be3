"""The push settings page: every member reads it, only workspace admins change it; the
VAPID public key is shown and the private one never; new keys only after a confirmation;
uploaded FCM and APNs keys are checked, stored encrypted and shown only as project id and
client email; allowed website origins; a test push to a chosen device; the service worker
to download; the device list on a profile's record page."""

from __future__ import annotations

import html
import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.channels import push_config
from apps.channels.devices import push_subscription_register
from apps.channels.models import ChannelConfig, PushSubscription
from apps.tenants.models import AuditEvent
from tests.channels.test_push_sending import Browser, _pem
from tests.isolation.world import database_digest

ACCOUNT = {"type": "service_account", "project_id": "travel-test", "client_email": "push@travel-test.iam.test",
           "private_key": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))}
BASE = {"vapid_subject": "mailto:ops@travel.test", "web_origins": "https://www.travel.test\nhttp://localhost:8000",
        "apns_environment": "production"}


def url(workspace, tail=""):
    return f"/w/{workspace.slug}/settings/push/{tail}"


@pytest.fixture
def keyed(workspace):
    return push_config.push_config_save(workspace=workspace, actor=None, generate_vapid=True,
                                        options={"vapid_subject": "mailto:ops@travel.test"})


def test_admins_save_uploads_and_origins_and_the_page_shows_no_secret(workspace, alice, client_for, keyed):
    c = client_for(alice)
    apns = _pem(ec.generate_private_key(ec.SECP256R1()))
    response = c.post(url(workspace), {
        **BASE, "apns_key_id": "ABC123DEFG", "apns_team_id": "TEAM123456", "apns_topic": "test.travel.app",
        "apns_environment": "sandbox",
        "fcm_service_account": SimpleUploadedFile("sa.json", json.dumps(ACCOUNT).encode(), "application/json"),
        "apns_key": SimpleUploadedFile("AuthKey.p8", apns.encode(), "application/octet-stream")})
    assert response.status_code == 302, response.content.decode()[:3000]
    config = ChannelConfig.objects.get(workspace=workspace, channel="push")
    assert config.options["web_origins"] == ["https://www.travel.test", "http://localhost:8000"]
    assert config.options["apns_base_url"] == push_config.APNS_SANDBOX_URL
    stored = push_config.secrets_of(config)
    assert stored["apns_key"] == apns.strip() and stored["fcm_service_account"]["project_id"] == "travel-test"
    assert stored["vapid_private_key"] == push_config.secrets_of(keyed)["vapid_private_key"]  # kept
    assert "PRIVATE KEY" not in config.secret_encrypted
    page = c.get(url(workspace)).content.decode()
    assert "PRIVATE KEY" not in page and ACCOUNT["private_key"][40:80] not in page
    assert keyed.options["vapid_public_key"] in page
    assert "push@travel-test.iam.test" in page and "<code>travel-test</code>" in page
    assert re.search(r'<input type="radio" name="apns_environment" value="sandbox"[^>]* checked', page)
    assert AuditEvent.objects.filter(workspace=workspace, verb="push configuration saved").count() == 2


@pytest.mark.parametrize("field,value,message", [
    ("fcm_service_account", b"{not json", "the service account's JSON key file"),
    ("fcm_service_account", json.dumps({**ACCOUNT, "private_key": "nope"}).encode(), "not a PEM private key"),
    ("apns_key", b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----", "the .p8 file's text"),
    ("apns_key", b"\xff\xfe binary", "not a text file"),
])
def test_a_bad_upload_is_shown_on_its_field_and_nothing_changes(workspace, alice, client_for, keyed, field, value,
                                                                 message):
    before = database_digest()
    response = client_for(alice).post(url(workspace), {**BASE, field: SimpleUploadedFile("f", value)})
    assert response.status_code == 422
    assert message in html.unescape(response.content.decode())
    assert database_digest() == before


@pytest.mark.parametrize("origins,message", [
    ("http://www.travel.test", "is not an origin"),  # http only on loopback
    ("https://www.travel.test/path", "is not an origin"),
    ("https://user@www.travel.test", "is not an origin"),
    ("javascript:alert(1)", "is not an origin"),
    ("\n".join(f"https://s{i}.travel.test" for i in range(21)), "at most 20 origins"),
])
def test_bad_origins_are_refused_naming_the_field(workspace, alice, client_for, keyed, origins, message, settings):
    settings.PUSH_WEB_ALLOW_HTTP = False
    response = client_for(alice).post(url(workspace), {**BASE, "web_origins": origins})
    assert response.status_code == 422 and message in html.unescape(response.content.decode())
    assert ChannelConfig.objects.get(workspace=workspace, channel="push").options.get("web_origins") == []


def test_new_keys_need_the_confirmation_once_keys_exist(workspace, alice, client_for, keyed):
    c = client_for(alice)
    old = keyed.options["vapid_public_key"]
    page = c.get(url(workspace)).content.decode()
    assert "make every browser subscription of today invalid" in page
    # without the tick: nothing changes
    response = c.post(url(workspace, "keys/"), {}, follow=True)
    assert "tick the confirmation" in response.content.decode()
    assert push_config.config_of(workspace).options["vapid_public_key"] == old
    # with it: a new pair, origins and subject kept
    push_config.push_config_save(workspace=workspace, actor=None, options={
        "vapid_subject": "mailto:ops@travel.test", "web_origins": ["https://www.travel.test"]})
    assert c.post(url(workspace, "keys/"), {"confirm": "on"}).status_code == 302
    config = push_config.config_of(workspace)
    assert config.options["vapid_public_key"] != old
    assert config.options["web_origins"] == ["https://www.travel.test"]


def test_the_first_keys_need_no_confirmation(workspace, alice, client_for):
    assert "No keys yet" in client_for(alice).get(url(workspace)).content.decode()
    assert client_for(alice).post(url(workspace, "keys/")).status_code == 302
    assert push_config.push_config_view(push_config.config_of(workspace))["web_push"] is True


def test_members_read_but_do_not_change_and_outsiders_get_404(workspace, keyed, bob, mallory, charlie,
                                                              client_for):
    for user in (bob, mallory):
        c = client_for(user)
        page = c.get(url(workspace))
        assert page.status_code == 200
        text = page.content.decode()
        assert keyed.options["vapid_public_key"] in text and 'id="push-read-only"' in text
        assert 'id="push-settings-save"' not in text and 'id="push-keys-form"' not in text
        before = database_digest()
        assert c.post(url(workspace), BASE).status_code == 403
        assert c.post(url(workspace, "keys/"), {"confirm": "on"}).status_code == 403
        assert c.post(url(workspace, "test/"), {"device": 1}).status_code == 403
        assert database_digest() == before
        assert c.get(url(workspace, "orchestrate-sw.js")).status_code == 200
    outsider = client_for(charlie)
    for tail in ("", "orchestrate-sw.js"):
        assert outsider.get(url(workspace, tail)).status_code == 404
    assert outsider.post(url(workspace, "keys/"), {"confirm": "on"}).status_code == 404


def test_the_service_worker_carries_the_key_and_the_registration_urls(workspace, alice, client_for, keyed):
    response = client_for(alice).get(url(workspace, "orchestrate-sw.js"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Content-Disposition"] == 'attachment; filename="orchestrate-sw.js"'
    script = response.content.decode()
    settings_line = next(line for line in script.splitlines() if line.startswith("const ORCHESTRATE = "))
    values = json.loads(settings_line.removeprefix("const ORCHESTRATE = ").rstrip(";"))
    assert values == {"vapidPublicKey": keyed.options["vapid_public_key"],
                      "subscribeUrl": f"http://testserver/push/{workspace.slug}/subscribe/",
                      "unsubscribeUrl": f"http://testserver/push/{workspace.slug}/unsubscribe/"}
    assert "showNotification" in script and "openWindow" in script and "PRIVATE" not in script


def test_a_test_push_reaches_the_chosen_device(workspace, alice, client_for, keyed, settings):
    from bench.pushsink import WebPushSink

    browser = Browser()
    with WebPushSink() as sink:
        sub, _ = push_subscription_register(workspace=workspace, platform="web", profile_key="1",
                                            subscription=browser.subscription(f"{sink.url}/push/abc"))
        c = client_for(alice)
        page = c.get(url(workspace)).content.decode()
        assert f'<option value="{sub.pk}">Web Push · 1 · 127.0.0.1</option>' in page
        response = c.post(url(workspace, "test/"), {"device": sub.pk}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.content
        assert 'id="push-test-ok"' in response.content.decode()
        payload = browser.decrypt(sink.requests[0].body)
    assert payload["title"] == "Test from Northwind" and payload["body"] == "Push works for this device."
    # a device of another workspace is not a choice: a field error, nothing sent
    response = c.post(url(workspace, "test/"), {"device": sub.pk + 1000}, HTTP_HX_REQUEST="true")
    assert 'id="push-test-error"' in response.content.decode() and len(sink.requests) == 1


def test_a_failed_test_push_says_what_the_service_answered(workspace, alice, client_for, keyed):
    from bench.pushsink import WebPushSink

    with WebPushSink() as sink:
        sub, _ = push_subscription_register(workspace=workspace, platform="web", profile_key="1",
                                            subscription=Browser().subscription(f"{sink.url}/push/gone"))
        response = client_for(alice).post(url(workspace, "test/"), {"device": sub.pk}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert 'id="push-test-error"' in text and "the push service answered unregistered" in text
    assert PushSubscription.objects.get(pk=sub.pk).active is False


def test_the_settings_navigation_links_push_for_every_member(workspace, bob, client_for):
    page = client_for(bob).get(f"/w/{workspace.slug}/settings/push/").content.decode()
    assert f'href="/w/{workspace.slug}/settings/push/" aria-current="page" id="nav-push-settings"' in page


def test_the_api_saves_and_checks_web_origins(workspace, settings):
    from django.test import Client

    from tests.factories import make_api_key

    settings.PUSH_WEB_ALLOW_HTTP = False
    _, raw = make_api_key(workspace, role="admin", name="push admin")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/workspaces/{workspace.slug}/channels/push/"
    response = api.put(url, json.dumps({"options": {"web_origins": ["https://WWW.Travel.test/", "http://localhost:3000"]}}),
                       content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["options"]["web_origins"] == ["https://www.travel.test", "http://localhost:3000"]
    bad = api.put(url, json.dumps({"options": {"web_origins": ["https://a.test\r\nX-Evil: 1"]}}),
                  content_type="application/json")
    assert bad.status_code == 400 and list(bad.json()) == ["web_origins"]
    assert push_config.config_of(workspace).options["web_origins"] == ["https://www.travel.test", "http://localhost:3000"]
