"""The consent API: topics, recording and reading consents, suppressions, rule sets, quiet
hours, the workspace policy and the inbound SMS URL; roles, isolation and the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.consent import services
from apps.consent.inbound import current_secret as inbound_sms_token
from apps.consent.models import (
    ConsentEvent,
    ConsentState,
    FrequencyCap,
    QuietHours,
    RuleSet,
    Suppression,
    Topic,
    WorkspacePolicy,
)
from apps.tenants.models import AuditEvent
from tests.factories import make_api_key

UTC = dt.UTC


@pytest.fixture
def api(client):
    keys: dict = {}

    def call(workspace, role, method, path, body=None):
        if (workspace.pk, role) not in keys:
            keys[(workspace.pk, role)] = make_api_key(workspace, role=role, name=f"test {role}")[1]
        return client.generic(method, f"/api/v1/workspaces/{workspace.slug}/{path}",
                              json.dumps(body) if body is not None else "", content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {keys[(workspace.pk, role)]}")
    return call


@pytest.fixture
def newsletter(workspace):
    return Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email")


@pytest.fixture
def offers(workspace):
    return Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="sms", policy="opt_out")


def verbs(workspace) -> list[str]:
    return [verb for verb in AuditEvent.objects.filter(workspace=workspace).order_by("id")
            .values_list("verb", flat=True) if verb.startswith(("consent.", "suppression."))]


# --- topics ---

def test_topics_crud_and_audit(workspace, api):
    created = api(workspace, "admin", "POST", "topics/", {"key": "news", "name": "News", "channel": "email"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["key"], body["name"], body["channel"], body["policy"]) == ("news", "News", "email", "opt_in")
    pk = body["id"]
    duplicate = api(workspace, "admin", "POST", "topics/", {"key": "news", "name": "Again", "channel": "email"})
    assert duplicate.status_code == 400
    assert duplicate.json() == {"key": ["there is already a email topic 'news'"]}
    assert api(workspace, "admin", "POST", "topics/", {"key": "news", "name": "SMS news",
                                                       "channel": "sms"}).status_code == 201

    listed = api(workspace, "viewer", "GET", "topics/?channel=email").json()
    assert [t["key"] for t in listed["results"]] == ["news"]

    updated = api(workspace, "admin", "PATCH", f"topics/{pk}/", {"policy": "opt_out", "name": "News!"})
    assert (updated.status_code, updated.json()["policy"], updated.json()["name"]) == (200, "opt_out", "News!")
    fixed = api(workspace, "admin", "PATCH", f"topics/{pk}/", {"channel": "sms"})
    assert fixed.status_code == 400
    assert fixed.json() == {"channel": ["the channel of a topic cannot change"]}

    assert api(workspace, "marketer", "POST", "topics/", {"key": "x", "name": "X", "channel": "email"}
               ).status_code == 403
    assert api(workspace, "marketer", "PATCH", f"topics/{pk}/", {"name": "Mine"}).status_code == 403
    assert Topic.objects.get(pk=pk).name == "News!"

    assert api(workspace, "admin", "DELETE", f"topics/{pk}/").status_code == 204
    assert not Topic.objects.filter(pk=pk).exists()
    assert verbs(workspace) == ["consent.topic.created", "consent.topic.created", "consent.topic.updated",
                                "consent.topic.deleted"]
    change = AuditEvent.objects.get(verb="consent.topic.updated")
    assert change.data["changed"] == {"name": ["News", "News!"], "policy": ["opt_in", "opt_out"]}


def test_a_topic_with_consent_history_cannot_be_deleted(workspace, api, newsletter):
    services.consent_record(workspace=workspace, profile_key="1", topic=newsletter, granted=True, source="api")
    response = api(workspace, "admin", "DELETE", f"topics/{newsletter.pk}/")
    assert response.status_code == 409
    assert "consent history" in response.json()["detail"]
    assert Topic.objects.filter(pk=newsletter.pk).exists()


# --- consents ---

def test_record_a_consent_by_key_or_id(workspace, api, newsletter, offers):
    response = api(workspace, "marketer", "POST", "consents/", {
        "profile_key": "42", "topic": "newsletter", "granted": True, "proof": "ticked the box",
        "at": "2024-05-01T10:00:00Z"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["profile_key"], body["topic"], body["channel"], body["granted"], body["source"], body["proof"],
            body["at"]) == ("42", "newsletter", "email", True, "api", "ticked the box", "2024-05-01T10:00:00Z")
    assert ConsentState.objects.get(topic=newsletter, profile_key="42").granted is True

    by_id = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "topic_id": offers.pk,
                                                             "granted": False, "source": "admin"})
    assert (by_id.status_code, by_id.json()["source"]) == (201, "admin")
    assert ConsentState.objects.get(topic=offers, profile_key="42").granted is False
    assert verbs(workspace) == ["consent.granted", "consent.withdrawn"]

    unknown = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "topic": "nope", "granted": True})
    assert (unknown.status_code, unknown.json()) == (400, {"topic": ["unknown topic 'nope'"]})
    wrong_channel = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "topic": "newsletter",
                                                                     "channel": "sms", "granted": True})
    assert wrong_channel.status_code == 400
    missing = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "granted": True})
    assert missing.json() == {"topic": ["give the topic's key or its id (topic_id)"]}
    future = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "topic": "newsletter",
                                                              "granted": True, "at": "2999-01-01T00:00:00Z"})
    assert future.json() == {"at": ["in the future"]}
    erasure = api(workspace, "marketer", "POST", "consents/", {"profile_key": "42", "topic": "newsletter",
                                                               "granted": False, "source": "erasure"})
    assert erasure.status_code == 400
    assert api(workspace, "viewer", "POST", "consents/", {"profile_key": "42", "topic": "newsletter",
                                                          "granted": True}).status_code == 403
    assert ConsentEvent.objects.count() == 2


def test_a_profile_state_shows_the_policy_default_when_nothing_is_recorded(workspace, api, newsletter, offers):
    services.consent_record(workspace=workspace, profile_key="7", topic=newsletter, granted=True, source="import",
                            at=dt.datetime(2024, 1, 1, tzinfo=UTC))
    response = api(workspace, "viewer", "GET", "profiles/7/consents/")
    assert response.status_code == 200
    assert response.json() == {"profile_key": "7", "consents": [
        {"topic": "newsletter", "topic_id": newsletter.pk, "name": "Newsletter", "channel": "email",
         "policy": "opt_in", "granted": True, "recorded": True, "at": "2024-01-01T00:00:00Z",
         "source": "import"},
        {"topic": "offers", "topic_id": offers.pk, "name": "Offers", "channel": "sms", "policy": "opt_out",
         "granted": True, "recorded": False, "at": None, "source": ""},
    ]}
    assert api(workspace, "viewer", "GET", "profiles/unknown/consents/").status_code == 404


def test_profile_state_reads_in_constant_queries(workspace, api, newsletter, offers):
    for i in range(5):
        Topic.objects.create(workspace=workspace, key=f"t{i}", name=f"T{i}", channel="email")
    services.consent_record(workspace=workspace, profile_key="7", topic=newsletter, granted=True, source="api")
    services.consent_record(workspace=workspace, profile_key="7", topic=offers, granted=False, source="api")
    api(workspace, "viewer", "GET", "profiles/7/consents/")  # the key's first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert api(workspace, "viewer", "GET", "profiles/7/consents/").status_code == 200
    assert len(queries.captured_queries) <= 8, [q["sql"][:90] for q in queries.captured_queries]


def test_history_is_newest_first_and_for_marketers(workspace, api, newsletter):
    for day, granted in ((1, True), (3, False), (2, True)):
        services.consent_record(workspace=workspace, profile_key="7", topic=newsletter, granted=granted,
                                source="api", at=dt.datetime(2024, 1, day, tzinfo=UTC), proof=f"day {day}")
    response = api(workspace, "marketer", "GET", "profiles/7/consents/history/")
    assert response.status_code == 200
    assert [(e["proof"], e["granted"], e["topic"]) for e in response.json()["results"]] == [
        ("day 3", False, "newsletter"), ("day 2", True, "newsletter"), ("day 1", True, "newsletter")]
    assert api(workspace, "viewer", "GET", "profiles/7/consents/history/").status_code == 403
    assert api(workspace, "marketer", "GET", "profiles/8/consents/history/").status_code == 404


def test_a_profile_of_the_profile_dimension_without_answers_is_known(workspace, api, travel, newsletter):
    response = api(workspace, "viewer", "GET", "profiles/1/consents/")
    assert response.status_code == 200
    assert response.json()["consents"][0]["recorded"] is False
    assert api(workspace, "viewer", "GET", "profiles/999/consents/").status_code == 404


def test_charlie_gets_404_everywhere(workspace, other_workspace, charlie, api, newsletter, client_for):
    services.consent_record(workspace=workspace, profile_key="7", topic=newsletter, granted=True, source="api")
    outsider = client_for(charlie)
    for path in ("topics/", f"topics/{newsletter.pk}/", "profiles/7/consents/", "profiles/7/consents/history/",
                 "suppressions/", "rule-sets/", "quiet-hours/", "policy/", "inbound-sms-url/"):
        assert outsider.get(f"/api/v1/workspaces/{workspace.slug}/{path}").status_code == 404, path
    # with a key of their own workspace, under their slug, the victim's objects do not exist
    assert api(other_workspace, "admin", "GET", f"topics/{newsletter.pk}/").status_code == 404
    assert api(other_workspace, "admin", "GET", "profiles/7/consents/").status_code == 404


# --- suppression ---

def test_suppressions_add_filter_search_and_remove(workspace, api):
    added = api(workspace, "approver", "POST", "suppressions/", {"kind": "email", "value": " Ann@Example.TEST ",
                                                                  "note": "asked by phone"})
    assert added.status_code == 201, added.content
    assert (added.json()["value"], added.json()["reason"]) == ("ann@example.test", "manual")
    api(workspace, "approver", "POST", "suppressions/", {"kind": "domain", "value": "@Spam.example",
                                                        "reason": "complaint"})
    api(workspace, "approver", "POST", "suppressions/", {"kind": "phone", "value": "+31 6 1234 5678",
                                                        "reason": "invalid"})
    bad = api(workspace, "approver", "POST", "suppressions/", {"kind": "email", "value": "not an address"})
    assert (bad.status_code, bad.json()) == (400, {"value": ["'not an address' is not an email address"]})
    erased = api(workspace, "admin", "POST", "suppressions/", {"kind": "email", "value": "x@y.test",
                                                               "reason": "erased"})
    assert erased.status_code == 400
    assert api(workspace, "marketer", "POST", "suppressions/", {"kind": "email", "value": "b@example.test"}
               ).status_code == 403

    def values(query):
        return [s["value"] for s in api(workspace, "marketer", "GET", f"suppressions/{query}").json()["results"]]

    assert values("") == ["+31612345678", "spam.example", "ann@example.test"]
    assert values("?kind=domain") == ["spam.example"]
    assert values("?reason=invalid") == ["+31612345678"]
    assert values("?search=ANN") == ["ann@example.test"]
    assert values("?search=phone") == ["ann@example.test"]  # the note
    assert api(workspace, "marketer", "GET", "suppressions/?kind=fax").status_code == 400
    assert api(workspace, "viewer", "GET", "suppressions/").status_code == 403

    pk = added.json()["id"]
    assert api(workspace, "marketer", "GET", f"suppressions/{pk}/").json()["note"] == "asked by phone"
    assert api(workspace, "approver", "DELETE", f"suppressions/{pk}/").status_code == 403
    assert Suppression.objects.filter(pk=pk).exists()
    assert api(workspace, "admin", "DELETE", f"suppressions/{pk}/").status_code == 204
    assert not Suppression.objects.filter(pk=pk).exists()
    assert verbs(workspace) == ["suppression.added"] * 3 + ["suppression.removed"]


def test_the_suppression_list_reads_in_constant_queries(workspace, api, alice):
    for i in range(30):
        services.suppression_add(workspace=workspace, kind="email", value=f"p{i}@example.test", reason="manual",
                                 actor=alice)
    api(workspace, "marketer", "GET", "suppressions/")  # the key's first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        response = api(workspace, "marketer", "GET", "suppressions/?search=example")
    assert response.json()["count"] == 30
    assert {s["created_by"] for s in response.json()["results"]} == {"alice@example.test"}
    assert len(queries.captured_queries) <= 8, [q["sql"][:90] for q in queries.captured_queries]


# --- rule sets ---

def test_rule_sets_with_caps(workspace, api):
    created = api(workspace, "admin", "POST", "rule-sets/", {"name": "Marketing", "caps": [
        {"channel": "email", "limit": 3, "period": "week"}, {"limit": 5, "period": "month"}]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert [(c["channel"], c["limit"], c["period"]) for c in body["caps"]] == [("email", 3, "week"), ("", 5, "month")]
    pk = body["id"]
    bad = api(workspace, "admin", "POST", "rule-sets/", {"name": "Bad", "caps": [{"limit": 0, "period": "year"}]})
    assert bad.status_code == 400
    assert bad.json() == {"caps": {"0": {"limit": ["Ensure this value is greater than or equal to 1."],
                                         "period": ['"year" is not a valid choice.']}}}
    duplicate = api(workspace, "admin", "POST", "rule-sets/", {"name": "Marketing"})
    assert duplicate.json() == {"name": ["there is already a rule set named 'Marketing'"]}

    replaced = api(workspace, "admin", "PUT", f"rule-sets/{pk}/", {"name": "Marketing caps", "caps": [
        {"channel": "sms", "limit": 1, "period": "day"}]})
    assert replaced.status_code == 200
    assert [(c["channel"], c["limit"]) for c in replaced.json()["caps"]] == [("sms", 1)]
    assert FrequencyCap.objects.filter(rule_set_id=pk).count() == 1
    assert [r["name"] for r in api(workspace, "viewer", "GET", "rule-sets/").json()["results"]] == ["Marketing caps"]
    assert api(workspace, "approver", "PUT", f"rule-sets/{pk}/", {"name": "Mine"}).status_code == 403
    assert api(workspace, "admin", "DELETE", f"rule-sets/{pk}/").status_code == 204
    assert not RuleSet.objects.filter(pk=pk).exists()
    assert verbs(workspace) == ["consent.ruleset.created", "consent.ruleset.updated", "consent.ruleset.deleted"]
    update = AuditEvent.objects.get(verb="consent.ruleset.updated")
    assert update.data == {"before": {"name": "Marketing", "caps": [
        {"channel": "email", "limit": 3, "period": "week"}, {"channel": "", "limit": 5, "period": "month"}]},
        "after": {"name": "Marketing caps", "caps": [{"channel": "sms", "limit": 1, "period": "day"}]}}


# --- quiet hours and policy ---

def test_quiet_hours_per_channel(workspace, api):
    empty = api(workspace, "viewer", "GET", "quiet-hours/").json()
    assert empty == {"email": None, "sms": None, "push": None, "direct_mail": None}
    response = api(workspace, "admin", "PUT", "quiet-hours/", {"sms": {"allowed_from": "08:00",
                                                                      "allowed_until": "21:00"},
                                                              "push": {"allowed_from": "22:00",
                                                                       "allowed_until": "07:30"}})
    assert response.status_code == 200, response.content
    assert response.json()["sms"] == {"allowed_from": "08:00", "allowed_until": "21:00"}
    assert response.json()["push"] == {"allowed_from": "22:00", "allowed_until": "07:30"}
    cleared = api(workspace, "admin", "PUT", "quiet-hours/", {"push": None})
    assert (cleared.json()["push"], cleared.json()["sms"]) == (None, {"allowed_from": "08:00",
                                                                      "allowed_until": "21:00"})
    bad = api(workspace, "admin", "PUT", "quiet-hours/", {"fax": None, "sms": {"allowed_from": "25:00",
                                                                             "allowed_until": "21:00"}})
    assert bad.status_code == 400
    assert set(bad.json()) == {"fax", "sms"}
    same = api(workspace, "admin", "PUT", "quiet-hours/", {"sms": {"allowed_from": "09:00",
                                                                  "allowed_until": "09:00"}})
    assert same.status_code == 400
    assert api(workspace, "approver", "PUT", "quiet-hours/", {"sms": None}).status_code == 403
    assert list(QuietHours.objects.values_list("channel", flat=True)) == ["sms"]
    assert verbs(workspace) == ["consent.quiet_hours.updated"] * 2


def test_workspace_policy(workspace, api):
    assert api(workspace, "viewer", "GET", "policy/").json() == {
        "four_eyes": False, "soft_bounce_threshold": 5, "unsubscribe_link_days": 90}
    assert not WorkspacePolicy.objects.exists()  # reading writes nothing
    for bad in (0, 21):
        response = api(workspace, "admin", "PUT", "policy/", {"soft_bounce_threshold": bad})
        assert response.status_code == 400
        assert list(response.json()) == ["soft_bounce_threshold"]
    response = api(workspace, "admin", "PUT", "policy/", {"four_eyes": True, "soft_bounce_threshold": 20})
    assert response.json() == {"four_eyes": True, "soft_bounce_threshold": 20, "unsubscribe_link_days": 90}
    assert api(workspace, "approver", "PUT", "policy/", {"four_eyes": False}).status_code == 403
    assert services.policy_for(workspace).four_eyes is True
    assert verbs(workspace) == ["consent.policy.updated"]
    assert AuditEvent.objects.get(verb="consent.policy.updated").data == {
        "changed": {"four_eyes": [False, True], "soft_bounce_threshold": [5, 20]}}


def test_inbound_sms_url_is_for_admins(workspace, api):
    response = api(workspace, "admin", "GET", "inbound-sms-url/")
    assert response.status_code == 200
    assert response.json() == {
        "url": f"http://testserver/inbound/sms/{workspace.slug}/{inbound_sms_token(workspace)}"}
    assert api(workspace, "approver", "GET", "inbound-sms-url/").status_code == 403


def test_the_openapi_schema_describes_every_consent_endpoint(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    expected = {
        "topics/": {"get", "post"},
        "topics/{id}/": {"get", "put", "patch", "delete"},
        "consents/": {"post"},
        "consents/import/": {"post"},
        "consents/batch/": {"post"},
        "profiles/{profile_key}/consents/": {"get"},
        "profiles/{profile_key}/consents/history/": {"get"},
        "suppressions/": {"get", "post"},
        "suppressions/{id}/": {"get", "delete"},
        "rule-sets/": {"get", "post"},
        "rule-sets/{id}/": {"get", "put", "delete"},
        "quiet-hours/": {"get", "put"},
        "policy/": {"get", "put"},
        "inbound-sms-url/": {"get", "post"},
    }
    for path, methods in expected.items():
        assert set(schema["paths"][prefix + path]) == methods, path
    kind = schema["components"]["schemas"]["SuppressionInput"]["properties"]["kind"]
    assert kind == {"$ref": "#/components/schemas/SuppressionKindEnum"}
