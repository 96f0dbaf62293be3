"""Proof and test emails are limited per person (user or API key) and per workspace:
beyond the budget, a 429 with Retry-After and a message that says which limit, in the API
and on the screens; nothing is sent or queued then."""

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from apps.channels import proof_limits
from apps.channels.models import ContentTemplate, Delivery
from tests.channels.test_templates_views import CONTENT, editor_post
from tests.factories import make_api_key

HX = {"HTTP_HX_REQUEST": "true"}
NOW = 1_800_000_000 + 600  # 10 minutes into a window of an hour: 50 minutes left


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(proof_limits.time, "time", lambda: NOW)


@pytest.fixture
def template(workspace, travel):
    return ContentTemplate.objects.create(workspace=workspace, name="Welcome", channel="email", content=CONTENT)


def post(client, key, workspace, path, body):
    return client.post(f"/api/v1/workspaces/{workspace.slug}/{path}", json.dumps(body),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@override_settings(PROOF_SEND_LIMIT_PER_USER=3, PROOF_SEND_LIMIT_PER_WORKSPACE=100)
def test_a_person_beyond_the_limit_gets_a_429_and_nothing_is_sent(workspace, template, client, email_config,
                                                                   sink, sends):
    key = make_api_key(workspace, role="marketer", name="ci")[1]
    path = f"templates/{template.pk}/proof/"
    assert post(client, key, workspace, path, {"addresses": ["a@example.test", "b@example.test"]}).status_code == 202
    response = post(client, key, workspace, path, {"addresses": ["c@example.test", "d@example.test"]})
    assert response.status_code == 429
    assert response["Retry-After"] == "3000"
    assert response.json() == {"detail": "Too many proof emails: you have sent 2 proof and test emails in the last "
                                         "60 minutes and each person may send 3; this would be 2 more; try again "
                                         "in 50 minutes."}
    assert Delivery.objects.filter(workspace=workspace).count() == 1
    # one more still fits
    assert post(client, key, workspace, path, {"addresses": ["c@example.test"]}).status_code == 202
    sends()
    assert sorted(r.rcpt_tos[0] for r in sink.received()) == ["a@example.test", "b@example.test", "c@example.test"]


@override_settings(PROOF_SEND_LIMIT_PER_USER=10, PROOF_SEND_LIMIT_PER_WORKSPACE=3)
def test_the_workspace_limit_holds_across_people(workspace, template, client, email_config, sends):
    first = make_api_key(workspace, role="marketer", name="one")[1]
    second = make_api_key(workspace, role="marketer", name="two")[1]
    path = f"templates/{template.pk}/proof/"
    assert post(client, first, workspace, path, {"addresses": ["a@example.test", "b@example.test"]}).status_code == 202
    response = post(client, second, workspace, path, {"addresses": ["c@example.test", "d@example.test"]})
    assert response.status_code == 429
    assert response.json()["detail"] == ("Too many proof emails: this workspace has sent 2 proof and test emails "
                                         "in the last 60 minutes and each workspace may send 3; this would be 2 "
                                         "more; try again in 50 minutes.")
    assert Delivery.objects.filter(workspace=workspace).count() == 1


@override_settings(PROOF_SEND_LIMIT_PER_USER=1, PROOF_SEND_LIMIT_PER_WORKSPACE=100)
def test_the_editor_shows_the_limit_with_a_429(workspace, travel, mallory, client_for, email_config, sends):
    client = client_for(mallory)
    url = reverse("tpl-proof", kwargs={"workspace_slug": workspace.slug})
    data = {**editor_post(**CONTENT), "proof-addresses": "qa@example.test"}
    assert client.post(url, data, **HX).status_code == 202
    response = client.post(url, data, **HX)
    assert response.status_code == 429
    assert response["Retry-After"] == "3000"
    assert ('<p class="flash flash-error" id="proof-error">Too many proof emails: you have sent 1 proof and test '
            'emails in the last 60 minutes and each person may send 1; try again in 50 minutes.</p>'
            ) in response.content.decode()
    assert Delivery.objects.filter(workspace=workspace).count() == 1


@override_settings(PROOF_SEND_LIMIT_PER_USER=2, PROOF_SEND_LIMIT_PER_WORKSPACE=100)
def test_test_emails_count_too_in_the_api_and_on_the_settings_page(workspace, alice, client, client_for, sink,
                                                                   email_config):
    from django.core import mail

    key = make_api_key(workspace, role="admin", name="admin")[1]
    assert post(client, key, workspace, "channels/email/test/", {"address": "qa@example.test"}).status_code == 200
    assert post(client, key, workspace, "channels/email/test/", {"address": "qa@example.test"}).status_code == 200
    response = post(client, key, workspace, "channels/email/test/", {"address": "qa@example.test"})
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many proof emails: you have sent 2 proof and test emails")
    assert len(sink.received()) == 2
    # a person on the screen has their own budget; beyond it, the same answer there
    page = client_for(alice)
    url = reverse("chan-email-test", kwargs={"workspace_slug": workspace.slug})
    assert page.post(url, {"address": "qa@example.test"}, **HX).status_code == 200
    assert page.post(url, {"address": "qa@example.test"}, **HX).status_code == 200
    limited = page.post(url, {"address": "qa@example.test"}, **HX)
    assert limited.status_code == 429
    assert "each person may send 2; try again in 50 minutes." in limited.content.decode()
    full = page.post(url, {"address": "qa@example.test"})
    assert full.status_code == 429 and "each person may send 2" in full.content.decode()
    assert len(sink.received()) == 4 and mail.outbox == []
