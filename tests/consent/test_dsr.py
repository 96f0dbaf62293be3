"""Data subject requests: a profile's export holds its rows (and those linking to it, two
levels deep), consents, messages and events; erasure deletes the rows, anonymizes the
messages, unlinks the consent history, keeps only hashed suppressions, and a profile
imported again with the same email is not mailed. Workspace admins only, audited."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from django.test import Client

from apps.channels import events
from apps.channels.devices import push_subscription_deactivate, push_subscription_register
from apps.channels.models import Delivery, Message, MessageEvent, PushSubscription
from apps.consent import dsr, services
from apps.consent.models import ConsentEvent, ConsentState, Suppression, Topic
from apps.datamodel import services as datamodel
from apps.datamodel.ingestion import Options, ingest_csv
from apps.datamodel.models import Entity
from apps.tenants.models import AuditEvent
from tests.channels.test_push_devices import web_subscription
from tests.channels.test_sending import CONTENT, live_run
from tests.factories import UserFactory, grant, make_api_key
from tests.isolation.world import database_digest


@pytest.fixture
def reviews(workspace, travel):
    """A second level: reviews link to bookings, which link to customers."""
    review = datamodel.entity_create(workspace=workspace, actor=None, key="review",
                                     primary_key={"key": "review_id", "type": "integer"},
                                     attributes=[{"key": "booking_id", "type": "integer"},
                                                 {"key": "text", "type": "text"}])
    datamodel.relationship_create(workspace=workspace, actor=None, source=review, attribute_key="booking_id",
                                  target=travel["booking"], key="booking", reverse_key="reviews")
    report = ingest_csv(entity=review, stream=io.BytesIO(
        b"review_id,booking_id,text\n7,1000,Lovely snow\n8,1002,Too cold\n"), options=Options())
    assert report.status == "done"
    return review


@pytest.fixture
def history(workspace, travel, reviews, email_config, queue, sends):
    """Anna (1) said yes then no to the newsletter, got one email and opened it."""
    topic = Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email")
    services.consent_record(workspace=workspace, profile_key=1, topic=topic, granted=True, source="api",
                            ip_address="192.0.2.10", proof="web form")
    services.consent_record(workspace=workspace, profile_key=1, topic=topic, granted=False, source="api")
    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    sends()
    message = Message.objects.get(delivery__run=run, profile_key="1")
    events.tracked_open(message_pk=message.pk, user_agent="Mozilla/5.0 Anna's phone", ip="198.51.100.7")
    return message


def admin_api(workspace):
    _, raw = make_api_key(workspace, role="admin", name="dpo")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def rows(workspace, table, key_column):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {key_column} FROM "ws_{workspace.pk}"."{table}" ORDER BY 1')
        return [r[0] for r in cursor.fetchall()]


def test_the_export_holds_rows_consents_messages_and_events(workspace, history, alice, client_for):
    # when a workspace admin downloads the export of Anna
    response = client_for(alice).get(f"/w/{workspace.slug}/privacy/1/export/")
    # then it is a JSON attachment
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="profile-{workspace.slug}-1.json"'
    data = json.loads(response.content)
    assert data["profile_entity"] == "customer" and data["profile_key"] == "1"
    assert data["profile"]["email"] == "anna@example.test" and data["profile"]["first_name"] == "Anna"
    # with the rows linking to her, and those linking to them
    assert [(part["entity"], part["via"], [r[part["entity"] + "_id"] for r in part["rows"]])
            for part in data["related"]] == [
        ("booking", "booking.customer", [1000, 1001]),
        ("review", "review.booking -> booking.customer", [7]),
    ]
    assert data["related"][1]["rows"][0]["text"] == "Lovely snow"
    assert data["consent"]["state"] == [{"topic": "newsletter", "channel": "email", "granted": False,
                                         "at": data["consent"]["state"][0]["at"]}]
    assert [(e["granted"], e["ip_address"], e["proof"]) for e in data["consent"]["events"]] == [
        (True, "192.0.2.10", "web form"), (False, None, "")]
    assert [(m["channel"], m["status"], m["address"]) for m in data["messages"]] == [
        ("email", "sent", "anna@example.test")]
    assert data["messages"][0]["sent_at"] and data["messages"][0]["delivery"]
    assert [(e["type"], e["data"]["ip"]) for e in data["message_events"]] == [("open", "198.51.100.7")]
    # and the audit log says it left, with counts and no personal data
    audit = AuditEvent.objects.get(workspace=workspace, verb="dsr.exported")
    assert audit.actor == alice
    assert audit.data == {"subject": dsr.pseudonym_for(workspace, "1"), "profile_row": True,
                          "related_rows": {"booking": 2, "review": 1}, "consent_states": 1, "consent_events": 2,
                          "messages": 1, "message_events": 1, "push_devices": 0}


def test_the_export_over_the_api_and_unknown_keys(workspace, history):
    api = admin_api(workspace)
    response = api.get(f"/api/v1/workspaces/{workspace.slug}/profiles/2/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="profile-{workspace.slug}-2.json"'
    data = json.loads(response.content)
    assert data["profile"]["first_name"] == "Ben" and data["related"][0]["rows"][0]["booking_id"] == 1002
    assert [r["review_id"] for r in data["related"][1]["rows"]] == [8]
    # nothing kept about a key, or a key that is no key of the profile: 404
    assert api.get(f"/api/v1/workspaces/{workspace.slug}/profiles/99/export/").status_code == 404
    assert api.get(f"/api/v1/workspaces/{workspace.slug}/profiles/x/export/").status_code == 404


def test_erasure_deletes_anonymizes_unlinks_and_suppresses(workspace, history, alice):
    api = admin_api(workspace)
    url = f"/api/v1/workspaces/{workspace.slug}/profiles/1/erase/"
    # a wrong confirmation changes nothing
    before = database_digest()
    response = api.post(url, {"confirm": "2"}, content_type="application/json")
    assert response.status_code == 400 and "confirm" in response.json()
    assert database_digest() == before
    # when the admin confirms with the key
    response = api.post(url, {"confirm": "1"}, content_type="application/json")
    assert response.status_code == 200, response.content
    pseudonym = dsr.pseudonym_for(workspace, "1")
    assert response.json() == {"subject": pseudonym, "deleted_rows": {"review": 1, "booking": 2, "customer": 1},
                               "messages_anonymized": 1, "message_events_cleared": 1,
                               "consent_events_unlinked": 2, "suppressions_added": 2,
                               "push_devices_deleted": 0}
    # then her rows and those linking to her are gone, the others stay
    assert rows(workspace, "customer", "customer_id") == [2, 3]
    assert rows(workspace, "booking", "booking_id") == [1002]
    assert rows(workspace, "review", "review_id") == [8]
    # her message keeps its status but no address nor link; its event no IP nor user agent
    # (the machine-open flag stays: it says how the open was counted, not who she is)
    message = Message.objects.get(pk=history.pk)
    assert (message.status, message.address, message.profile_key, message.target_key) == (
        "sent", "", pseudonym, pseudonym)
    assert not Message.objects.filter(workspace_id=workspace.pk, address="anna@example.test").exists()
    assert [e.data for e in MessageEvent.objects.filter(message=message)] == [{"machine": "too_soon"}]
    # her consent history is kept, unlinked; the current state is gone
    assert list(ConsentEvent.objects.filter(workspace=workspace).values_list(
        "profile_key", "granted", "ip_address", "proof").order_by("id")) == [
        (pseudonym, True, None, ""), (pseudonym, False, None, "")]
    assert not ConsentState.objects.filter(workspace=workspace).exists()
    # her email and phone are kept only hashed
    assert sorted(Suppression.objects.filter(workspace=workspace).values_list("kind", "value", "hashed", "reason")) \
        == [("email", services.hashed_value("anna@example.test"), True, "erased"),
            ("phone", services.hashed_value("+31612345678"), True, "erased")]
    # the audit log has the counts and the pseudonym, nothing of hers
    audit = AuditEvent.objects.get(workspace=workspace, verb="dsr.erased")
    assert audit.data == response.json() and audit.target_repr == "customer"
    logged = json.dumps(list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="dsr.").values()),
                        default=str)
    assert "anna" not in logged.lower() and "31612345678" not in logged
    # and there is nothing left to find
    assert api.post(url, {"confirm": "1"}, content_type="application/json").status_code == 404


def test_an_erased_profile_imported_again_is_not_mailed(workspace, history, queue, sends, sink):
    dsr.profile_erase(workspace=workspace, actor=None, subject=dsr.access_subject(workspace, "1"), confirm="1")
    already = len(sink.received())  # the earlier emails
    # given the CRM sends her again, under a new key and with her address in capitals
    customer = Entity.objects.get(workspace=workspace, key="customer")
    report = ingest_csv(entity=customer, stream=io.BytesIO(
        b"customer_id,email,first_name\n41,Anna@Example.test,Anna\n"), options=Options())
    assert report.status == "done"
    # when a live email goes to everyone, transactional (suppression still applies)
    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    sends()
    # then she is excluded as suppressed and nothing reaches her address
    delivery = Delivery.objects.get(run=run)
    assert {m.profile_key: (m.status, m.reason) for m in Message.objects.filter(delivery=delivery)} == {
        "2": ("sent", ""), "3": ("sent", ""), "41": ("excluded", "suppressed")}
    assert sorted(r.rcpt_tos[0] for r in sink.received()[already:]) == ["ben@example.test", "chloe@example.test"]


def test_plain_suppressions_of_her_address_become_hashed(workspace, history):
    services.bounce_record(workspace=workspace, address="anna@example.test", hard=True)
    dsr.profile_erase(workspace=workspace, actor=None, subject=dsr.access_subject(workspace, "1"), confirm="1")
    entry = Suppression.objects.get(workspace=workspace, kind="email")
    assert (entry.value, entry.hashed, entry.reason, entry.note) == (
        services.hashed_value("anna@example.test"), True, "erased", "erased profile; was suppressed: hard_bounce")


def test_only_workspace_admins_and_no_outsider(workspace, other_workspace, history, bob, mallory, charlie,
                                               client_for):
    approver = grant(UserFactory(email="appr@example.test"), workspace, "approver")
    before = database_digest()
    for user in (bob, mallory, approver):
        client = client_for(user)
        assert client.get(f"/w/{workspace.slug}/privacy/1/export/").status_code == 403
        assert client.post(f"/w/{workspace.slug}/privacy/1/erase/", {"confirm": "1"}).status_code == 403
        assert client.get(f"/api/v1/workspaces/{workspace.slug}/profiles/1/export/").status_code == 403
    outsider = client_for(charlie)
    assert outsider.get(f"/w/{workspace.slug}/privacy/1/export/").status_code == 404
    assert outsider.post(f"/w/{workspace.slug}/privacy/1/erase/", {"confirm": "1"}).status_code == 404
    assert outsider.post(f"/api/v1/workspaces/{workspace.slug}/profiles/1/erase/", {"confirm": "1"},
                         content_type="application/json").status_code == 404
    assert database_digest() == before


def test_the_pages_find_summarize_and_erase_after_confirmation(workspace, history, alice, client_for):
    client = client_for(alice)
    page = client.get(f"/w/{workspace.slug}/privacy/", {"key": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="dsr-counts"' in html and "Linked booking rows</th><td>2" in html
    assert f'href="/w/{workspace.slug}/privacy/" aria-current="page">Privacy' in html  # the admins' nav link
    assert f'href="/w/{workspace.slug}/privacy/1/export/"' in html and "anna@example.test" not in html
    assert not AuditEvent.objects.filter(verb="dsr.exported").exists()  # a summary is not an export
    missing = client.get(f"/w/{workspace.slug}/privacy/", {"key": "404"})
    assert 'id="dsr-missing"' in missing.content.decode()
    # the confirm step
    confirm = client.get(f"/w/{workspace.slug}/privacy/1/erase/")
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.content.decode()
    wrong = client.post(f"/w/{workspace.slug}/privacy/1/erase/", {"confirm": "one"}, HTTP_HX_REQUEST="true")
    assert wrong.status_code == 422 and "Type the profile key" in wrong.content.decode()
    assert rows(workspace, "customer", "customer_id") == [1, 2, 3]
    done = client.post(f"/w/{workspace.slug}/privacy/1/erase/", {"confirm": "1"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and 'id="erase-done"' in done.content.decode()
    assert rows(workspace, "customer", "customer_id") == [2, 3]
    assert AuditEvent.objects.filter(workspace=workspace, verb="dsr.erased", actor=alice).count() == 1


def test_other_profiles_linking_to_her_are_other_people(workspace, travel):
    # given Ben (2) was referred by Anna (1): a link from the profile entity to itself
    customer = travel["customer"]
    datamodel.attribute_add(workspace=workspace, actor=None, entity=customer,
                            spec={"key": "referred_by", "type": "integer"})
    datamodel.relationship_create(workspace=workspace, actor=None, source=customer, attribute_key="referred_by",
                                  target=customer, key="referrer", reverse_key="referrals")
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "ws_{workspace.pk}".customer SET referred_by = 1 WHERE customer_id = 2')
    subject = dsr.access_subject(workspace, "1")
    # then neither the export nor the erasure reaches Ben
    assert [part["entity"] for part in dsr.profile_data(subject)["related"]] == ["booking"]
    result = dsr.profile_erase(workspace=workspace, actor=None, subject=subject, confirm="1")
    assert result.rows == {"booking": 2, "customer": 1}
    assert rows(workspace, "customer", "customer_id") == [2, 3]


def test_push_devices_are_exported_and_erased_with_the_profile(workspace, history, other_workspace):
    # given Anna has a phone and a browser, Ben a phone, and another workspace a device of its own "1"
    phone, _ = push_subscription_register(workspace=workspace, platform="android", profile_key="1",
                                          token="anna-phone-token-0123456789", app_id="com.example.app")
    push_subscription_deactivate(subscription=phone, reason="unregistered by the app")
    browser = web_subscription()
    push_subscription_register(workspace=workspace, platform="web", profile_key="1", subscription=browser)
    push_subscription_register(workspace=workspace, platform="android", profile_key="2",
                               token="ben-phone-token-0123456789")
    push_subscription_register(workspace=other_workspace, platform="android", profile_key="1",
                               token="anna-phone-token-0123456789")
    # when the export is downloaded, it lists both of her devices (newest first), no one else's
    data = dsr.profile_export(workspace=workspace, actor=None, subject=dsr.access_subject(workspace, "1"))
    assert [(d["platform"], d["token"], d["active"], d["deactivated_reason"]) for d in data["push_devices"]] == [
        ("web", browser["endpoint"], True, ""), ("android", "anna-phone-token-0123456789", False,
                                                 "unregistered by the app")]
    assert dsr.counts_of(data)["push_devices"] == 2
    # when she is erased, her two devices go and are counted; Ben's and the other workspace's stay
    result = dsr.profile_erase(workspace=workspace, actor=None, subject=dsr.access_subject(workspace, "1"),
                               confirm="1")
    assert result.push_devices == 2 and result.as_dict()["push_devices_deleted"] == 2
    assert sorted(PushSubscription.objects.values_list("workspace_id", "profile_key")) == sorted(
        [(workspace.pk, "2"), (other_workspace.pk, "1")])


def test_a_profile_known_only_by_its_push_device_can_be_erased(workspace, travel):
    push_subscription_register(workspace=workspace, platform="android", profile_key="77",
                               token="gone-customer-token-0123456789")
    subject = dsr.access_subject(workspace, "77")
    assert dsr.profile_erase(workspace=workspace, actor=None, subject=subject, confirm="77").push_devices == 1
    assert not PushSubscription.objects.filter(workspace=workspace).exists()
