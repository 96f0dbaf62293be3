"""The Django admin speaks plainly and changes lifecycles through the services: plural
names, no "Add" on rows the application makes itself (append-only ledgers included), and
status changes as actions that call the services (status read-only on the forms)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory

from apps.campaigns.models import Campaign, Run
from apps.channels.models import Delivery, Message, MessageEvent, SenderDomain
from apps.consent.models import ConsentEvent, QuietHours, WorkspacePolicy
from apps.tenants.models import ApiKey, AuditEvent
from tests.channels.delivery_rows import make_delivery
from tests.factories import UserFactory, make_api_key

# Rows a person may add in the admin; every other model of ours is made by the app.
ADDABLE = {"User", "Organization", "Membership", "Workspace", "ChannelConfig", "ContentTemplate", "Topic",
           "Suppression", "SoftBounce", "RuleSet", "FrequencyCap", "QuietHours", "WorkspacePolicy",
           "ReportSubscription"}
APPEND_ONLY = {AuditEvent, ConsentEvent, MessageEvent}


@pytest.fixture
def root(db):
    return UserFactory(email="root@example.test", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(root):
    client = Client()
    client.force_login(root, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_plural_names_read_as_english():
    assert Delivery._meta.verbose_name_plural == "deliveries"
    assert QuietHours._meta.verbose_name_plural == "quiet hours"
    assert WorkspacePolicy._meta.verbose_name_plural == "workspace policies"
    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        assert not re.search(r"([^aeiou]ys|urss)$", plural), (model.__name__, plural)


def test_no_add_on_rows_the_application_makes(root):
    request = RequestFactory().get("/admin/")
    request.user = root
    ours = {m: a for m, a in admin.site._registry.items() if m.__module__.startswith("apps.")}
    for model, model_admin in ours.items():
        assert model_admin.has_add_permission(request) == (model.__name__ in ADDABLE), model.__name__
    for model in APPEND_ONLY:
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request) and not model_admin.has_change_permission(request)


def test_status_is_read_only_on_every_lifecycle_form():
    for model, field in [(Campaign, "status"), (Run, "status"), (Delivery, "status"), (SenderDomain, "status"),
                         (ApiKey, "revoked_at")]:
        assert field in admin.site._registry[model].readonly_fields, model.__name__


def test_a_delivery_is_paused_resumed_and_stopped_through_the_services(staff, workspace, monkeypatch):
    from apps.channels import sending

    dispatched = []
    monkeypatch.setattr(sending, "dispatch", lambda delivery: dispatched.append(delivery.pk))
    delivery = make_delivery(workspace, statuses={"queued": 3, "sent": 1})
    url = "/admin/channels/delivery/"
    # the change form cannot set the status
    staff.post(f"{url}{delivery.pk}/change/", {"name": "Renamed", "channel": "email", "status": "done",
                                               "workspace": workspace.pk, "expires_at_0": "2030-01-01",
                                               "expires_at_1": "00:00:00"})
    delivery.refresh_from_db()
    assert delivery.status == "sending"
    response = staff.post(url, {"action": "pause", "_selected_action": [delivery.pk]}, follow=True)
    assert "1 delivery(ies) paused." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "paused"
    staff.post(url, {"action": "resume", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, dispatched) == ("sending", [delivery.pk])
    staff.post(url, {"action": "stop", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "stopped"
    assert sorted(Message.objects.filter(delivery=delivery).values_list("status", "reason")) == [
        ("cancelled", "stopped")] * 3 + [("sent", "")]


def test_campaign_and_api_key_actions_run_the_services_and_are_audited(staff, root, workspace):
    from apps.campaigns import services as campaigns

    campaign = campaigns.campaign_create(workspace=workspace, actor=None, name="Spring")
    Campaign.objects.filter(pk=campaign.pk).update(status="live")
    response = staff.post("/admin/campaigns/campaign/", {"action": "pause", "_selected_action": [campaign.pk]},
                          follow=True)
    assert "1 campaign(s) paused." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert AuditEvent.objects.filter(workspace=workspace, verb="campaign.paused", actor=root).count() == 1
    # a transition the service refuses is reported, nothing changes
    response = staff.post("/admin/campaigns/campaign/", {"action": "pause", "_selected_action": [campaign.pk]},
                          follow=True)
    campaign.refresh_from_db()
    assert campaign.status == "paused" and "Spring: A paused campaign cannot be paused." in response.content.decode()
    assert AuditEvent.objects.filter(workspace=workspace, verb="campaign.paused").count() == 1
    key, _raw = make_api_key(workspace, role="viewer", name="partner")
    staff.post("/admin/tenants/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(workspace=workspace, verb="api_key.revoked", actor=root).count() == 1
