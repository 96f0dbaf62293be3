"""The push device registry over the partner API: register (idempotent by platform and
token), refuse malformed tokens and Web Push subscriptions with the field named, list,
unregister, forget."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.test import Client

from apps.channels.models import PushSubscription
from tests.factories import make_api_key

FCM = "fcm-token-0123456789-abcdefghij:APA91b"
APNS = "ab" * 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def web_subscription(endpoint="http://127.0.0.1:9/push/abc") -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": _b64(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)),
                     "auth": _b64(os.urandom(16))}}


class Api:
    def __init__(self, workspace, role="marketer"):
        _, raw = make_api_key(workspace, role=role, name=f"push {role}")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.prefix = f"/api/v1/workspaces/{workspace.slug}/push/subscriptions/"

    def post(self, path, body):
        return self.client.post(self.prefix + path, body, content_type="application/json")

    def get(self, path="", **params):
        return self.client.get(self.prefix + path, params)


@pytest.fixture
def api(workspace):
    return Api(workspace)


def test_registering_a_token_twice_updates_the_one_device(workspace, api):
    first = api.post("", {"platform": "android", "profile_key": "c1", "token": FCM, "app_id": "1:123:android:ab"})
    assert first.status_code == 201, first.content
    again = api.post("", {"platform": "android", "profile_key": "c2", "token": FCM})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    sub = PushSubscription.objects.get(workspace=workspace)
    assert (sub.profile_key, sub.token, sub.app_id, sub.active) == ("c2", FCM, "", True)
    assert sub.last_seen_at > sub.created_at


def test_a_web_push_subscription_keeps_its_keys_and_shows_its_endpoint(workspace, api):
    body = web_subscription()
    response = api.post("", {"platform": "web", "profile_key": "c1", "subscription": body})
    assert response.status_code == 201, response.content
    assert response.json()["endpoint"] == body["endpoint"]
    assert response.json()["token"] is None
    sub = PushSubscription.objects.get(workspace=workspace)
    assert sub.keys == body["keys"]


@pytest.mark.parametrize("body,field", [
    ({"platform": "ios", "profile_key": "c1", "token": "not-hex"}, "token"),
    ({"platform": "android", "profile_key": "c1", "token": "short"}, "token"),
    ({"platform": "ios", "profile_key": "c1", "token": APNS, "app_id": "com.example\r\nX-Evil: 1"}, "app_id"),
    ({"platform": "android", "profile_key": "c1\nc2", "token": FCM}, "profile_key"),
    ({"platform": "web", "profile_key": "c1", "subscription": web_subscription("https://10.0.0.1/push/x")},
     "subscription.endpoint"),
    ({"platform": "web", "profile_key": "c1", "subscription": web_subscription("file:///etc/passwd")},
     "subscription.endpoint"),
    ({"platform": "web", "profile_key": "c1",
      "subscription": {**web_subscription(), "keys": {"p256dh": _b64(b"\x04" * 10), "auth": _b64(b"a" * 16)}}},
     "subscription.keys.p256dh"),
    ({"platform": "web", "profile_key": "c1",
      "subscription": {**web_subscription(), "keys": {**web_subscription()["keys"], "auth": "!!"}}},
     "subscription.keys.auth"),
    ({"platform": "web", "profile_key": "c1", "token": FCM}, "token"),
    ({"platform": "fax", "profile_key": "c1", "token": FCM}, "platform"),
])
def test_malformed_registrations_are_a_400_naming_the_field(workspace, api, body, field):
    response = api.post("", body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not PushSubscription.objects.filter(workspace=workspace).exists()


def test_unregister_deactivates_and_registering_again_reactivates(workspace, api):
    api.post("", {"platform": "ios", "profile_key": "c1", "token": APNS.upper(), "app_id": "com.example.app"})
    response = api.post("unregister/", {"platform": "ios", "token": APNS})
    assert response.status_code == 200, response.content
    assert (response.json()["active"], response.json()["deactivated_reason"]) == (False, "unregistered by the app")
    assert api.get(active="true").json()["count"] == 0
    assert api.get(active="false", profile_key="c1").json()["count"] == 1
    assert api.post("unregister/", {"platform": "ios", "token": "cd" * 32}).status_code == 404
    api.post("", {"platform": "ios", "profile_key": "c1", "token": APNS, "app_id": "com.example.app"})
    sub = PushSubscription.objects.get(workspace=workspace)
    assert (sub.active, sub.deactivated_reason, sub.deactivated_at) == (True, "", None)


def test_viewers_list_but_do_not_register(workspace, api):
    api.post("", {"platform": "android", "profile_key": "c1", "token": FCM})
    viewer = Api(workspace, "viewer")
    assert viewer.get().json()["results"][0]["token"] == FCM
    assert viewer.post("", {"platform": "android", "profile_key": "c1", "token": FCM + "x"}).status_code == 403
    assert PushSubscription.objects.filter(workspace=workspace).count() == 1


def test_delete_forgets_the_device(workspace, api):
    pk = api.post("", {"platform": "android", "profile_key": "c1", "token": FCM}).json()["id"]
    assert api.client.delete(f"{api.prefix}{pk}/").status_code == 204
    assert not PushSubscription.objects.filter(workspace=workspace).exists()
