"""Consent import by CSV and JSON batch: every problem with row, field and why; reject and
skip modes; set-based writes where the newest answer wins; one audit entry per import."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.consent import imports, services
from apps.consent.models import ConsentEvent, ConsentState, Topic
from apps.tenants.models import AuditEvent
from tests.factories import make_api_key

UTC = dt.UTC


@pytest.fixture
def topics(workspace):
    return {
        "newsletter": Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email"),
        "offers-email": Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="email"),
        "offers-sms": Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="sms",
                                           policy="opt_out"),
    }


def run(workspace, text: str, mode="reject", max_errors=100, actor=None):
    return imports.consent_import(workspace=workspace, actor=actor, records=imports.csv_records(text.encode()),
                                  mode=mode, max_errors=max_errors, reference="import test.csv")


def state(topic, key):
    return ConsentState.objects.filter(topic=topic, profile_key=key).values_list("granted", flat=True).first()


def test_a_good_file_writes_events_and_states_and_one_audit_entry(workspace, topics, alice):
    # given a file with a key on one channel only (newsletter) and one on two (offers)
    text = ("profile_key,topic,channel,granted,at,source,proof\n"
            "1,newsletter,,yes,2024-05-01T09:30:00+02:00,,signup form v3\n"
            "2,newsletter,email,0,,,\n"
            "1,offers,sms,TRUE,2024-05-02,preference_center,\n")
    # when it is imported
    report = run(workspace, text, actor=alice)
    # then
    assert (report.status, report.rows, report.imported, report.granted, report.withdrawn, report.skipped,
            report.error_count, report.states_changed) == ("done", 3, 3, 2, 1, 0, 0, 3)
    first = ConsentEvent.objects.get(profile_key="1", topic=topics["newsletter"])
    assert (first.granted, first.source, first.at, first.proof, first.reference, first.actor, first.channel) == (
        True, "import", dt.datetime(2024, 5, 1, 7, 30, tzinfo=UTC), "signup form v3", "import test.csv row 1",
        alice, "email")
    # a date without an offset is in the workspace's time zone (Europe/Amsterdam, +02:00 in May)
    sms = ConsentEvent.objects.get(profile_key="1", topic=topics["offers-sms"])
    assert (sms.at, sms.source) == (dt.datetime(2024, 5, 1, 22, 0, tzinfo=UTC), "preference_center")
    assert state(topics["newsletter"], "1") is True
    assert state(topics["newsletter"], "2") is False
    assert state(topics["offers-sms"], "1") is True
    audit = AuditEvent.objects.filter(workspace=workspace, verb__startswith="consent.")
    assert [(a.verb, a.actor_id, a.data["imported"], a.data["mode"]) for a in audit] == [
        ("consent.imported", alice.pk, 3, "reject")]


def test_every_problem_is_reported_with_row_field_and_why_and_reject_writes_nothing(workspace, topics):
    text = ("profile_key,topic,channel,granted,at\n"
            "1,newsletter,,yes,\n"
            ",newsletter,,yes,\n"
            "3,unknown,,yes,\n"
            "4,offers,,yes,\n"
            "5,newsletter,sms,yes,\n"
            "6,newsletter,,maybe,\n"
            "7,newsletter,,no,yesterday\n"
            "8,newsletter,,no,2999-01-01T00:00:00Z\n"
            "9,newsletter\n")
    report = run(workspace, text)
    assert (report.status, report.rows, report.imported, report.error_count) == ("rejected", 9, 0, 8)
    assert [(e["row"], e["field"], e["value"]) for e in report.errors] == [
        (2, "profile_key", ""), (3, "topic", "unknown"), (4, "channel", ""), (5, "channel", "sms"),
        (6, "granted", "maybe"), (7, "at", "yesterday"), (8, "at", "2999-01-01T00:00:00Z"), (9, "", "")]
    reasons = [e["reason"] for e in report.errors]
    assert reasons[0] == "the profile key is empty"
    assert reasons[1] == "unknown topic 'unknown'"
    assert reasons[2] == "topic 'offers' is on several channels (email, sms): give the channel"
    assert reasons[3] == "topic 'newsletter' is not on 'sms'; it is on email"
    assert reasons[4] == "not a yes/no value (true, false, yes, no, 1 or 0)"
    assert reasons[5].startswith("not an ISO date or timestamp")
    assert reasons[6] == "in the future"
    assert reasons[7] == "the row has 2 fields, not as many as the header"
    assert report.message == "8 bad rows: nothing was imported (reject mode)."
    assert ConsentEvent.objects.count() == 0
    assert ConsentState.objects.count() == 0
    assert not AuditEvent.objects.filter(verb="consent.imported").exists()


def test_skip_mode_leaves_out_bad_rows_up_to_the_limit(workspace, topics):
    text = "profile_key,topic,granted\n1,newsletter,yes\n2,nope,yes\n3,newsletter,no\n4,newsletter,?\n"
    report = run(workspace, text, mode="skip", max_errors=2)
    assert (report.status, report.rows, report.imported, report.skipped, report.error_count) == (
        "done", 4, 2, 2, 2)
    assert sorted(ConsentEvent.objects.values_list("profile_key", flat=True)) == ["1", "3"]
    assert report.message == "2 consents imported, 2 bad rows skipped."
    # past the limit, nothing is written
    report = run(workspace, text.replace("1,newsletter,yes", "1,newsletter,maybe"), mode="skip", max_errors=2)
    assert (report.status, report.imported, report.error_count) == ("rejected", 0, 3)
    assert report.message == "3 bad rows exceed the limit of 2: nothing was imported."
    assert ConsentEvent.objects.count() == 2


@pytest.mark.parametrize("header,problems", [
    ("profile_key,topic\n", [("granted", "required column missing")]),
    ("profile_key,topic,granted,colour\n", [("colour", "unknown column; the columns are profile_key, topic, "
                                                       "channel, granted, at, source, proof")]),
    ("profile_key,topic,granted,granted\n", [("granted", "the column appears twice")]),
    ("\n", [("", "the file is empty")]),
])
def test_a_bad_header_rejects_the_file(workspace, topics, header, problems):
    with pytest.raises(imports.ImportError_) as caught:
        run(workspace, header + ("1,newsletter,yes\n" if header.strip() else ""))
    assert [(p["field"], p["reason"]) for p in caught.value.problems] == problems


def test_the_newest_answer_wins_and_older_ones_join_the_history(workspace, topics):
    topic = topics["newsletter"]
    services.consent_record(workspace=workspace, profile_key="1", topic=topic, granted=True, source="api",
                            at=dt.datetime(2024, 6, 1, tzinfo=UTC))
    # an older withdrawal: history only; the same profile twice in a file: the later `at` wins
    text = ("profile_key,topic,granted,at\n"
            "1,newsletter,no,2024-01-01T00:00:00Z\n"
            "2,newsletter,no,2024-03-01T00:00:00Z\n"
            "2,newsletter,yes,2024-02-01T00:00:00Z\n")
    report = run(workspace, text)
    assert (report.imported, report.states_changed) == (3, 1)
    assert state(topic, "1") is True
    assert state(topic, "2") is False
    assert ConsentEvent.objects.filter(profile_key="1").count() == 2
    # a newer answer moves the state
    report = run(workspace, "profile_key,topic,granted,at\n1,newsletter,no,2024-07-01T00:00:00Z\n")
    assert report.states_changed == 1
    assert state(topic, "1") is False
    current = ConsentState.objects.get(topic=topic, profile_key="1")
    assert current.event == ConsentEvent.objects.get(profile_key="1", at=dt.datetime(2024, 7, 1, tzinfo=UTC))


def test_ten_thousand_rows_import_in_a_few_statements_and_seconds(workspace, topics):
    lines = ["profile_key,topic,channel,granted,at"]
    for i in range(10_000):
        lines.append(f"{i},{'offers' if i % 2 else 'newsletter'},email,{'yes' if i % 3 else 'no'},"
                     f"2024-05-01T09:{i % 60:02d}:00Z")
    text = "\n".join(lines) + "\n"
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        report = run(workspace, text)
    elapsed = time.perf_counter() - started
    assert (report.status, report.imported, report.states_changed) == ("done", 10_000, 10_000)
    assert report.granted == sum(1 for i in range(10_000) if i % 3)
    # topics once, the one write statement, the audit entry (plus savepoints)
    writes = [q["sql"] for q in queries.captured_queries if "consent_consentevent" in q["sql"]]
    assert len(writes) == 1
    assert len(queries.captured_queries) <= 6, [q["sql"][:80] for q in queries.captured_queries]
    assert elapsed < 5, elapsed
    assert ConsentEvent.objects.filter(workspace=workspace).count() == 10_000
    assert ConsentState.objects.filter(workspace=workspace, granted=True).count() == report.granted


# --- over the API ---

@pytest.fixture
def api(client, workspace):
    keys: dict = {}

    def key(role):
        if role not in keys:
            keys[role] = make_api_key(workspace, role=role, name=f"test {role}")[1]
        return keys[role]

    def post_json(role, path, body):
        return client.post(f"/api/v1/workspaces/{workspace.slug}/{path}", json.dumps(body),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key(role)}")

    def upload(role, text, **fields):
        return client.post(f"/api/v1/workspaces/{workspace.slug}/consents/import/",
                           {"file": SimpleUploadedFile("list.csv", text.encode(), "text/csv"), **fields},
                           HTTP_AUTHORIZATION=f"Bearer {key(role)}")

    post_json.upload = upload
    return post_json


def test_csv_upload_over_the_api(workspace, topics, api):
    response = api.upload("marketer", "profile_key,topic,granted\n1,newsletter,yes\n2,nope,no\n", mode="skip")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["imported"], body["skipped"]) == ("done", 1, 1)
    assert body["errors"] == [{"row": 2, "field": "topic", "value": "nope", "reason": "unknown topic 'nope'"}]
    assert ConsentEvent.objects.get().reference == "import list.csv row 1"

    rejected = api.upload("marketer", "profile_key,topic,granted\n1,newsletter,yes\n2,nope,no\n")
    assert rejected.status_code == 400
    assert (rejected.json()["status"], rejected.json()["imported"]) == ("rejected", 0)
    assert ConsentEvent.objects.count() == 1

    header = api.upload("marketer", "who,topic,granted\n1,newsletter,yes\n")
    assert header.status_code == 400
    assert [e["field"] for e in header.json()["errors"]] == ["who", "profile_key"]

    no_file = api("marketer", "consents/import/", {})
    assert no_file.status_code in (400, 415)
    assert api.upload("viewer", "profile_key,topic,granted\n1,newsletter,yes\n").status_code == 403
    assert ConsentEvent.objects.count() == 1


def test_json_batch_over_the_api(workspace, topics, api):
    body = {"mode": "skip", "max_errors": 5, "consents": [
        {"profile_key": "1", "topic": "offers", "channel": "sms", "granted": False, "at": "2024-05-01T00:00:00Z"},
        {"profile_key": 2, "topic": "newsletter", "granted": "yes", "proof": "call"},
        {"profile_key": "3", "topic": "newsletter", "granted": "yes", "colour": "red"},
        "not an object",
    ]}
    response = api("marketer", "consents/batch/", body)
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["imported"], report["skipped"], report["withdrawn"]) == (2, 2, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "colour"), (4, "")]
    assert state(topics["offers-sms"], "1") is False
    assert ConsentEvent.objects.get(profile_key="2").proof == "call"
    # a bare list is reject mode
    bare = api("marketer", "consents/batch/", [{"profile_key": "9", "topic": "nope", "granted": True}])
    assert bare.status_code == 400
    assert bare.json()["errors"][0]["reason"] == "unknown topic 'nope'"
    assert api("marketer", "consents/batch/", {"mode": "all"}).status_code == 400


def test_a_file_refused_as_a_whole_answers_the_full_report(workspace, topics, api):
    # the same ConsentImportReport as any other answer: every field, nothing counted
    response = api.upload("marketer", "who,topic,granted\n1,newsletter,yes\n", mode="skip")
    assert response.status_code == 400
    body = response.json()
    assert {k: v for k, v in body.items() if k != "errors"} == {
        "status": "rejected", "mode": "skip", "rows": 0, "imported": 0, "granted": 0, "withdrawn": 0,
        "skipped": 0, "states_changed": 0, "error_count": 2, "message": body["message"]}
    assert body["message"]
    assert [e["field"] for e in body["errors"]] == ["who", "profile_key"]
