"""The public Web Push registration endpoint: only the workspace's allowed website origins
(CORS answered for those only), a profile token that only the client's server can get,
a strictly checked subscription (precise 400s), rate limits per IP and per workspace,
and no way into another workspace."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from apps.channels import push_config, webpush
from apps.channels.models import PushSubscription
from tests.channels.test_push_sending import Browser
from tests.factories import make_api_key
from tests.isolation.world import database_digest

ORIGIN = "https://www.travel.test"
ENDPOINT = "http://127.0.0.1:9/push/browser-1"


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site(workspace):
    return push_config.push_config_save(workspace=workspace, actor=None, generate_vapid=True,
                                        options={"web_origins": [ORIGIN]})


def body(workspace, key="1", subscription=None, **extra):
    return {"profile_key": key, "profile_token": webpush.profile_token(workspace, key),
            "subscription": subscription or Browser().subscription(ENDPOINT), **extra}


def post(workspace, data, origin=ORIGIN, action="subscribe", **headers):
    raw = data if isinstance(data, str | bytes) else json.dumps(data)
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    return Client().post(f"/push/{workspace.slug}/{action}/", raw, content_type="application/json",
                         **extra, **headers)


def test_a_browser_registers_for_its_profile_and_unsubscribes(workspace, site):
    # when the page POSTs the subscription with the profile's token
    response = post(workspace, body(workspace))
    # then the browser is a device of the profile, and the answer carries CORS for the origin only
    assert response.status_code == 201, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN and response["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response
    sub = PushSubscription.objects.get(workspace=workspace)
    assert (sub.platform, sub.profile_key, sub.token, sub.active) == ("web", "1", ENDPOINT, True)
    assert response.json() == {"subscribed": True, "device": sub.pk}
    # the same subscription again: 200, still one device
    assert post(workspace, body(workspace)).status_code == 200
    assert PushSubscription.objects.filter(workspace=workspace).count() == 1
    # unsubscribing deactivates it
    token = webpush.profile_token(workspace, "1")
    response = post(workspace, {"profile_key": "1", "profile_token": token, "endpoint": ENDPOINT},
                    action="unsubscribe")
    assert response.status_code == 200 and response.json() == {"subscribed": False, "device": sub.pk}
    sub.refresh_from_db()
    assert (sub.active, sub.deactivated_reason) == (False, "unsubscribed in the browser")


def test_the_preflight_is_answered_for_allowed_origins_only(workspace, site):
    c = Client()
    url = f"/push/{workspace.slug}/subscribe/"
    ok = c.options(url, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                   HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")
    assert ok.status_code == 204
    assert (ok["Access-Control-Allow-Origin"], ok["Access-Control-Allow-Methods"],
            ok["Access-Control-Allow-Headers"]) == (ORIGIN, "POST, OPTIONS", "Content-Type")
    bad = c.options(url, HTTP_ORIGIN="https://evil.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert bad.status_code == 403 and "Access-Control-Allow-Origin" not in bad
    put = c.options(url, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT")
    assert put.status_code == 405
    assert c.get(url, HTTP_ORIGIN=ORIGIN).status_code == 405


@pytest.mark.parametrize("origin", ["https://evil.test", "https://www.travel.test.evil.test", "null",
                                    "http://www.travel.test", "", "https://www.travel.test:444"])
def test_another_origin_is_a_403_without_cors_and_changes_nothing(workspace, site, origin):
    before = database_digest()
    response = post(workspace, body(workspace), origin=origin)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert database_digest() == before


def test_the_origin_is_compared_normalized(workspace, site):
    assert post(workspace, body(workspace), origin="HTTPS://WWW.travel.test:443").status_code == 201


@pytest.mark.parametrize("token", ["", "0" * 64, None, 12, "x" * 5000])
def test_a_wrong_profile_token_is_a_403(workspace, site, token):
    before = database_digest()
    response = post(workspace, {**body(workspace), "profile_token": token})
    assert response.status_code == 403, response.content
    assert response.json()["errors"] == {"profile_token": ["does not match"]}
    assert database_digest() == before


def test_a_token_is_for_one_profile_in_one_workspace(workspace, other_workspace, site):
    # Anna's token does not register Ben, nor Anna in another workspace
    stolen = {**body(workspace, key="2"), "profile_token": webpush.profile_token(workspace, "1")}
    assert post(workspace, stolen).status_code == 403
    push_config.push_config_save(workspace=other_workspace, actor=None, generate_vapid=True,
                                 options={"web_origins": [ORIGIN]})
    assert post(other_workspace, body(workspace)).status_code == 403
    assert not PushSubscription.objects.exists()
    # nor unsubscribes Ben's browser
    post(workspace, body(workspace, key="2"))
    response = post(workspace, {"profile_key": "1", "profile_token": webpush.profile_token(workspace, "1"),
                                "endpoint": ENDPOINT}, action="unsubscribe")
    assert response.status_code == 404
    assert PushSubscription.objects.get(workspace=workspace).active is True


@pytest.mark.parametrize("change,field", [
    (lambda b: {**b, "subscription": {**b["subscription"], "endpoint": "https://evil.test/push/1"}},
     "subscription.endpoint"),
    (lambda b: {**b, "subscription": {**b["subscription"], "endpoint": "ftp://127.0.0.1/push/1"}},
     "subscription.endpoint"),
    (lambda b: {**b, "subscription": {**b["subscription"], "keys": {"p256dh": "AAAA", "auth": "BBBB"}}},
     "subscription.keys.p256dh"),
    (lambda b: {**b, "subscription": {**b["subscription"],
                                      "keys": {**b["subscription"]["keys"], "auth": "not base64!"}}},
     "subscription.keys.auth"),
    (lambda b: {**b, "subscription": {**b["subscription"], "keys": {**b["subscription"]["keys"],
                                                                    "auth": "QUFBQUFBQUFBQUFBQUFBQUFB"}}},
     "subscription.keys.auth"),  # 18 bytes, not 16
    (lambda b: {**b, "subscription": "endpoint"}, "subscription"),
    (lambda b: {**b, "subscription": {**b["subscription"], "extra": 1}}, "subscription"),
    (lambda b: {**b, "admin": True}, "body"),
    (lambda b: {**b, "profile_key": "a\nb"}, "profile_key"),
    (lambda b: {**b, "profile_key": ["1"]}, "profile_key"),
    (lambda b: [b], "body"),
])
def test_a_malformed_subscription_is_a_400_naming_the_field(workspace, site, change, field):
    before = database_digest()
    response = post(workspace, change(body(workspace)))
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # the page can read why
    assert database_digest() == before


def test_a_body_that_is_not_json_is_a_400_and_other_types_a_415(workspace, site):
    response = post(workspace, "{not json")
    assert response.status_code == 400 and response.json()["errors"] == {"body": ["not valid JSON"]}
    assert post(workspace, b"\xff\xfe").status_code == 400
    form = Client().post(f"/push/{workspace.slug}/subscribe/", {"a": "b"}, HTTP_ORIGIN=ORIGIN)
    assert form.status_code == 415
    assert post(workspace, json.dumps({**body(workspace), "pad": "x" * 9000})).status_code == 413


def test_without_vapid_keys_browsers_cannot_subscribe(workspace):
    push_config.push_config_save(workspace=workspace, actor=None, options={"web_origins": [ORIGIN]})
    response = post(workspace, body(workspace))
    assert response.status_code == 409 and not PushSubscription.objects.exists()


def test_unknown_and_archived_workspaces_are_404(workspace, site):
    assert Client().post("/push/nope/subscribe/", "{}", content_type="application/json",
                         HTTP_ORIGIN=ORIGIN).status_code == 404
    from django.utils import timezone

    workspace.archived_at = timezone.now()
    workspace.save(update_fields=["archived_at"])
    assert post(workspace, body(workspace)).status_code == 404


def test_the_rate_limit_per_ip_is_a_429_with_retry_after(workspace, site, settings):
    settings.PUSH_BROWSER_PER_IP_PER_MINUTE = 3
    for _ in range(3):
        assert post(workspace, body(workspace)).status_code in (200, 201)
    response = post(workspace, body(workspace))
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    # another address is not limited by this one
    assert post(workspace, body(workspace), REMOTE_ADDR="192.0.2.77").status_code == 200


def test_the_rate_limit_per_workspace_holds_across_addresses(workspace, other_workspace, site, settings):
    settings.PUSH_BROWSER_PER_WORKSPACE_PER_MINUTE = 2
    for n in range(2):
        assert post(workspace, body(workspace), REMOTE_ADDR=f"192.0.2.{n}").status_code in (200, 201)
    assert post(workspace, body(workspace), REMOTE_ADDR="192.0.2.9").status_code == 429
    # the other workspace has its own budget
    push_config.push_config_save(workspace=other_workspace, actor=None, generate_vapid=True,
                                 options={"web_origins": [ORIGIN]})
    assert post(other_workspace, body(other_workspace), REMOTE_ADDR="192.0.2.10").status_code == 201


def test_a_bad_origin_does_not_spend_the_workspace_budget(workspace, site, settings):
    settings.PUSH_BROWSER_PER_WORKSPACE_PER_MINUTE = 1
    for n in range(5):
        assert post(workspace, body(workspace), origin="https://evil.test",
                    REMOTE_ADDR=f"192.0.2.{n}").status_code == 403
    assert post(workspace, body(workspace), REMOTE_ADDR="192.0.2.50").status_code == 201


def test_partners_get_profile_tokens_over_the_api(workspace, other_workspace):
    _, raw = make_api_key(workspace, role="marketer", name="site backend")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/workspaces/{workspace.slug}/push/profile-tokens/"
    response = api.post(url, {"profile_key": " 1 "}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"profile_key": "1", "profile_token": webpush.profile_token(workspace, "1")}
    assert webpush.profile_token(workspace, "1") != webpush.profile_token(other_workspace, "1")
    assert api.post(url, {}, content_type="application/json").json() == {"profile_key": ["This field is required."]}
    # a viewer's key does not get tokens; another workspace's URL is a 404
    _, viewer = make_api_key(workspace, role="viewer", name="reader")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {viewer}").post(
        url, {"profile_key": "1"}, content_type="application/json").status_code == 403
    assert api.post(f"/api/v1/workspaces/{other_workspace.slug}/push/profile-tokens/", {"profile_key": "1"},
                    content_type="application/json").status_code == 404
