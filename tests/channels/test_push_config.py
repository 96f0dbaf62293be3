"""The push configuration: VAPID keys generated in the product (private key encrypted,
public key shown), the FCM service account and APNs key write-only, every URL the
platform will call checked, every bad field a 400 naming it."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client, override_settings

from apps.channels.models import ChannelConfig
from apps.channels.push_config import secrets_of
from tests.factories import make_api_key


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


ACCOUNT = {"type": "service_account", "project_id": "travel-test", "client_email": "push@travel-test.iam.test",
           "private_key": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))}


@pytest.fixture
def admin(workspace):
    _, raw = make_api_key(workspace, role="admin", name="push admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.url = f"/api/v1/workspaces/{workspace.slug}/channels/push/"
    return client


def _put(admin, body):
    return admin.put(admin.url, json.dumps(body), content_type="application/json")


def test_vapid_keys_are_generated_the_private_one_encrypted_the_public_one_shown(workspace, admin):
    response = _put(admin, {"generate_vapid": True, "options": {"vapid_subject": "mailto:ops@travel.test"},
                            "fcm_service_account": ACCOUNT})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["web_push"], body["fcm"], body["fcm_project_id"], body["apns"]) == (True, True, "travel-test", False)
    config = ChannelConfig.objects.get(workspace=workspace, channel="push")
    stored = secrets_of(config)
    private = serialization.load_pem_private_key(stored["vapid_private_key"].encode(), password=None)
    public = private.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    assert body["vapid_public_key"] == base64.urlsafe_b64encode(public).decode().rstrip("=")
    assert "PRIVATE KEY" not in config.secret_encrypted and "PRIVATE KEY" not in json.dumps(config.options)
    assert "PRIVATE KEY" not in admin.get(admin.url).content.decode()
    # saving options again keeps the secrets; a new pair replaces the key
    again = _put(admin, {"options": {"vapid_subject": "https://travel.test/contact"}}).json()
    assert (again["vapid_public_key"], again["fcm"]) == (body["vapid_public_key"], True)
    assert _put(admin, {"generate_vapid": True}).json()["vapid_public_key"] != body["vapid_public_key"]


@pytest.mark.parametrize("body,field", [
    ({"options": {"vapid_subject": "ops@travel.test"}}, "vapid_subject"),
    ({"options": {"fcm_base_url": "ftp://fcm.test"}}, "fcm_base_url"),
    ({"options": {"apns_base_url": "https://api.push.apple.com\r\nX: 1"}}, "apns_base_url"),
    ({"options": {"apns_key_id": "short"}}, "apns_key_id"),
    ({"options": {"apns_topic": "com.example app"}}, "apns_topic"),
    ({"fcm_service_account": {"type": "user"}}, "fcm_service_account"),
    ({"fcm_service_account": {**ACCOUNT, "private_key": "nope"}}, "fcm_service_account.private_key"),
    ({"fcm_service_account": {**ACCOUNT, "token_uri": "gopher://x"}}, "fcm_service_account.token_uri"),
    ({"apns_key": "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----"}, "apns_key"),
    ({"apns_key": ACCOUNT["private_key"]}, "apns_key"),  # an RSA key is not an APNs key
])
def test_bad_fields_are_a_400_naming_them_and_nothing_is_saved(workspace, admin, body, field):
    response = _put(admin, body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not ChannelConfig.objects.filter(workspace=workspace, channel="push").exists()


@override_settings(CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS=False)
def test_urls_on_private_addresses_are_refused(workspace, admin):
    for body, field in (({"options": {"fcm_base_url": "https://127.0.0.1:8443"}}, "fcm_base_url"),
                        ({"fcm_service_account": {**ACCOUNT, "token_uri": "https://10.1.2.3/token"}},
                         "fcm_service_account.token_uri")):
        response = _put(admin, body)
        assert response.status_code == 400 and field in response.json(), response.content


def test_an_apns_key_is_kept_and_reported_once_ids_are_set(workspace, admin):
    key = _pem(ec.generate_private_key(ec.SECP256R1()))
    body = _put(admin, {"apns_key": key, "options": {"apns_key_id": "ABC123DEFG", "apns_team_id": "TEAM123456",
                                                     "apns_topic": "test.travel.app"}}).json()
    assert body["apns"] is True and body["options"]["apns_topic"] == "test.travel.app"
    assert _put(admin, {"clear": ["apns_key"]}).json()["apns"] is False
