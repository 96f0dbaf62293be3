"""The audit log in words: each verb a sentence with its data formatted, unknown verbs
humanized, on the audit page, in the API and in the Django admin."""

from __future__ import annotations

from django.test import Client

from apps.tenants import audit_words, services
from apps.tenants.models import AuditEvent
from tests.factories import UserFactory, make_api_key


def test_known_verbs_are_sentences_with_their_data_in_words():
    summary = audit_words.summary
    assert summary("datamodel.ingestion_done", "customers.csv → Customer",
                   {"inserted": 1204, "updated": 0, "deleted": 2, "rejected": 3}) == (
        "Loaded customers.csv → Customer: 1,204 added, 0 updated, 2 deleted, 3 rejected")
    assert summary("datamodel.entity_created", "Customer", {"attributes": ["customer_id", "email", "phone"]}) == (
        "Created the entity Customer with the attributes customer_id, email and phone")
    assert summary("campaign.updated", "Spring", {"fields": ["name"]}) == "Changed the name of the campaign Spring"
    assert summary("member.role_changed", "bob@example.test", {"old": "viewer", "new": "marketer"}) == (
        "Changed the role of bob@example.test from viewer to marketer")
    assert summary("workspace.updated", "Northwind", {"time_zone": {"old": "UTC", "new": "Europe/Amsterdam"}}) == (
        "Changed the settings of Northwind: Time zone: UTC → Europe/Amsterdam")
    assert summary("datamodel.ingestion_queued", "job", {"entity": "customer", "file": "c.csv", "bytes": 2048}) == (
        "Uploaded c.csv (2.0 KB) into customer")
    assert summary("email configuration saved", "Email", {"changed": ["host", "port"]}) == (
        "Saved the email settings (host and port)")
    assert summary("campaign.paused", "Spring", {}) == "Paused the campaign Spring"


def test_unknown_verbs_and_missing_values_are_humanized_and_lists_never_show_as_python():
    assert audit_words.summary("datamodel.shiny_new_thing", "Customer", {}) == "Shiny new thing · Customer"
    assert audit_words.summary("consent.topic.archived", "", {}) == "Topic archived"
    # an older event without a value its sentence names
    assert audit_words.summary("datamodel.ingestion_done", "Customer", {"inserted": 1}) == "Ingestion done · Customer"
    lines = audit_words.details({"attributes": ["a", "b"], "caps": [{"channel": "email", "limit": 2}],
                                 "expires_at": None, "fields": []})
    assert lines == ["Attributes: a and b", "Caps: Channel: email; Limit: 2", "Expires at: —", "Fields: none"]
    assert not any("[" in line or "{" in line for line in lines)
    long = audit_words.summary("audience.deleted", "x" * 500, {})
    assert len(long) < 260 and long.endswith("…")


def test_the_audit_page_api_and_admin_show_the_sentence(workspace, alice, client_for):
    services.audit_record(workspace=workspace, actor=alice, verb="datamodel.ingestion_done", target=None,
                          data={"inserted": 12, "updated": 1, "deleted": 0, "rejected": 2})
    services.audit_record(workspace=workspace, actor=alice, verb="datamodel.entity_created", target=None,
                          data={"attributes": ["<b>id</b>", "email"]})
    page = client_for(alice).get(f"/w/{workspace.slug}/audit/").content.decode()
    assert "Loaded —: 12 added, 1 updated, 0 deleted, 2 rejected" in page
    assert "with the attributes &lt;b&gt;id&lt;/b&gt; and email" in page  # tenant text escaped
    assert "[&#x27;" not in page and "<code>datamodel." not in page
    _, raw = make_api_key(workspace, role="viewer", name="log reader")
    body = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(
        f"/api/v1/workspaces/{workspace.slug}/audit-events/").json()
    events = body["results"] if isinstance(body, dict) else body
    by_verb = {e["verb"]: e for e in events}
    assert by_verb["datamodel.ingestion_done"]["summary"] == "Loaded —: 12 added, 1 updated, 0 deleted, 2 rejected"
    root = UserFactory(email="root@example.test", is_staff=True, is_superuser=True)
    admin_page = client_for(root).get("/admin/tenants/auditevent/").content.decode()
    assert "Loaded —: 12 added, 1 updated, 0 deleted, 2 rejected" in admin_page
    assert AuditEvent.objects.filter(workspace=workspace).count() >= 2
