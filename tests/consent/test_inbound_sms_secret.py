"""The inbound SMS URL's secret: rotated by a workspace admin (screen and API, audited),
the old URL refused at once or after a short grace period."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from apps.consent import services
from apps.consent.inbound import current_secret as inbound_sms_token
from apps.consent.models import Topic
from apps.tenants.models import AuditEvent
from tests.factories import UserFactory, grant, make_api_key


@pytest.fixture
def admin(workspace):
    return grant(UserFactory(email="wsadmin@example.test"), workspace, "admin")


@pytest.fixture
def texts(workspace):
    return Topic.objects.create(workspace=workspace, key="texts", name="Texts", channel="sms", policy="opt_in")


def stop(url):
    return Client().post(url, {"from": "+447700900123", "body": "STOP"})


def inbound_url(workspace):
    return f"/inbound/sms/{workspace.slug}/{inbound_sms_token(workspace)}"


_keys = itertools.count(1)


def rotate_api(workspace, role, body):
    _, raw = make_api_key(workspace, role=role, name=f"rotating {role} {next(_keys)}")
    return Client().post(f"/api/v1/workspaces/{workspace.slug}/inbound-sms-url/", json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_rotating_on_the_screen_refuses_the_old_url_at_once(workspace, admin, texts, client_for):
    old = inbound_url(workspace)
    # when
    response = client_for(admin).post(f"/w/{workspace.slug}/consent/policy/inbound-sms/rotate/",
                                      {"grace_minutes": "0"})
    # then
    assert response.status_code == 302
    assert response.url == f"/w/{workspace.slug}/consent/policy/#inbound-sms"
    new = inbound_url(workspace)
    assert new != old
    assert stop(old).status_code == 404
    assert stop(new).status_code == 200
    page = client_for(admin).get(f"/w/{workspace.slug}/consent/policy/").content.decode()
    assert re.search(r'<code id="inbound-sms-url">([^<]+)</code>', page).group(1) == f"http://testserver{new}"
    event = AuditEvent.objects.get(workspace=workspace, verb="consent.inbound_sms.rotated")
    assert event.actor_id == admin.pk
    assert event.data == {"grace_minutes": 0}
    assert inbound_sms_token(workspace) not in json.dumps(event.data)


def test_a_grace_period_keeps_the_previous_url_working_until_it_ends(workspace, admin, texts, client_for,
                                                                        monkeypatch):
    old = inbound_url(workspace)
    client_for(admin).post(f"/w/{workspace.slug}/consent/policy/inbound-sms/rotate/", {"grace_minutes": "30"})
    new = inbound_url(workspace)
    assert stop(old).status_code == 200
    assert stop(new).status_code == 200
    # a second rotation drops the first URL (only the one just replaced gets a grace)
    client_for(admin).post(f"/w/{workspace.slug}/consent/policy/inbound-sms/rotate/", {"grace_minutes": "30"})
    assert stop(old).status_code == 404
    assert stop(new).status_code == 200
    # 31 minutes later the replaced URL is refused too
    later = timezone.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr("apps.consent.inbound.timezone.now", lambda: later)
    assert stop(new).status_code == 404
    assert stop(inbound_url(workspace)).status_code == 200


def test_rotation_is_for_workspace_admins_only(workspace, mallory, texts, client_for):
    old = inbound_url(workspace)
    response = client_for(mallory).post(f"/w/{workspace.slug}/consent/policy/inbound-sms/rotate/",
                                        {"grace_minutes": "0"})
    assert response.status_code == 403
    assert inbound_url(workspace) == old
    assert rotate_api(workspace, "approver", {}).status_code == 403
    assert inbound_url(workspace) == old
    assert not AuditEvent.objects.filter(verb="consent.inbound_sms.rotated").exists()


def test_a_bad_grace_period_is_a_precise_error_and_rotates_nothing(workspace, admin, client_for):
    old = inbound_url(workspace)
    response = client_for(admin).post(f"/w/{workspace.slug}/consent/policy/inbound-sms/rotate/",
                                      {"grace_minutes": "5000"})
    assert response.status_code == 422
    assert "Ensure this value is less than or equal to 1440." in response.content.decode()
    response = rotate_api(workspace, "admin", {"grace_minutes": -1})
    assert response.status_code == 400
    assert response.json()["grace_minutes"] == ["Ensure this value is greater than or equal to 0."]
    response = rotate_api(workspace, "admin", {"grace_minutes": "soon"})
    assert response.status_code == 400
    assert response.json()["grace_minutes"] == ["A valid integer is required."]
    assert inbound_url(workspace) == old


def test_rotating_over_the_api_returns_the_new_url(workspace, texts):
    old = inbound_url(workspace)
    response = rotate_api(workspace, "admin", {"grace_minutes": 10})
    assert response.status_code == 200
    body = response.json()
    new = inbound_url(workspace)
    assert body["url"] == f"http://testserver{new}"
    policy = services.policy_for(workspace)
    assert body["previous_valid_until"] == policy.inbound_sms_previous_valid_until.isoformat().replace("+00:00", "Z")
    assert stop(old).status_code == 200
    assert AuditEvent.objects.get(verb="consent.inbound_sms.rotated").data == {"grace_minutes": 10}


def test_the_secret_of_one_workspace_never_opens_another(workspace, other_workspace, texts):
    own = inbound_sms_token(workspace)
    assert stop(f"/inbound/sms/{other_workspace.slug}/{own}").status_code == 404
    assert inbound_sms_token(other_workspace) != own
