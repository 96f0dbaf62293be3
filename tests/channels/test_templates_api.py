"""Templates over the API: CRUD, problems with field and line, live check, previews of
real records, proofs to test addresses."""

import json

import pytest

from apps.channels.models import ContentTemplate, Delivery, Message
from tests.factories import make_api_key

CONTENT = {"subject": "Hello {{ profile.first_name }}",
           "html": "<p>Dear {{ profile.first_name }} from {{ profile.city }},</p>"}


@pytest.fixture
def api(client):
    keys: dict = {}

    def call(workspace, role, method, path, body=None):
        if role not in keys:
            keys[role] = make_api_key(workspace, role=role, name=f"test {role}")[1]
        key = keys[role]
        url = f"/api/v1/workspaces/{workspace.slug}/{path}"
        return client.generic(method, url, json.dumps(body) if body is not None else "",
                              content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    return call


@pytest.fixture
def template(workspace, travel):
    return ContentTemplate.objects.create(workspace=workspace, name="Welcome", channel="email", content=CONTENT)


def test_create_list_filter_update_and_delete(workspace, travel, api):
    # when a marketer creates an email and a direct-mail template
    created = api(workspace, "marketer", "POST", "templates/", {"name": "Welcome", "channel": "email",
                                                                 "content": CONTENT})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["channel"], body["entity_key"], body["content"]) == ("Welcome", "email", "", CONTENT)
    letter = api(workspace, "marketer", "POST", "templates/", {
        "name": "Letter", "channel": "direct_mail", "entity_key": "booking",
        "content": {"html": "<p>{{ target.booking_id }} for {{ profile.last_name }}</p>", "page_size": "A4"}})
    assert letter.status_code == 201, letter.content
    # then they are listed, and filtered by channel
    names = [t["name"] for t in api(workspace, "viewer", "GET", "templates/").json()["results"]]
    assert names == ["Letter", "Welcome"]
    only_email = api(workspace, "viewer", "GET", "templates/?channel=email").json()["results"]
    assert [t["name"] for t in only_email] == ["Welcome"]
    # an update keeps what it does not name
    pk = body["id"]
    patched = api(workspace, "marketer", "PATCH", f"templates/{pk}/", {"name": "Welcome back"})
    assert patched.status_code == 200 and patched.json()["content"] == CONTENT
    assert ContentTemplate.objects.get(pk=pk).name == "Welcome back"
    # and it is deleted
    assert api(workspace, "marketer", "DELETE", f"templates/{pk}/").status_code == 204
    assert not ContentTemplate.objects.filter(pk=pk).exists()


def test_a_template_with_problems_is_refused_with_field_and_line(workspace, travel, api):
    response = api(workspace, "marketer", "POST", "templates/", {"name": "Broken", "channel": "email", "content": {
        "subject": "Hi {{ profile.nickname }}",
        "html": "<p>one</p>\n<p>{% if profile.first_name %}two</p>"}})
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert {"field": "subject", "line": 1,
            "message": problems[0]["message"]} in problems and "nickname" in problems[0]["message"]
    html = [p for p in problems if p["field"] == "html"]
    assert len(html) >= 1 and html[0]["line"] == 2
    assert not ContentTemplate.objects.filter(workspace=workspace).exists()


def test_a_taken_name_and_unknown_fields_are_refused(workspace, template, api):
    taken = api(workspace, "marketer", "POST", "templates/", {"name": "Welcome", "channel": "email",
                                                               "content": CONTENT})
    assert taken.status_code == 400 and "exists already" in taken.json()["name"][0]
    unknown = api(workspace, "marketer", "POST", "templates/", {"name": "Other", "channel": "email",
                                                                 "content": {"body": "x"}})
    assert unknown.status_code == 400 and "unknown field" in unknown.json()["content"][0]
    assert ContentTemplate.objects.filter(workspace=workspace).count() == 1


def test_check_judges_unsaved_content_and_saves_nothing(workspace, travel, api):
    ok = api(workspace, "marketer", "POST", "templates/check/", {"channel": "email", "content": CONTENT})
    assert ok.json() == {"valid": True, "problems": []}
    bad = api(workspace, "marketer", "POST", "templates/check/", {
        "channel": "email", "entity_key": "booking", "content": {"subject": "{{ target.nope }}"}})
    assert bad.status_code == 200 and bad.json()["valid"] is False
    assert bad.json()["problems"][0]["field"] == "subject" and "nope" in bad.json()["problems"][0]["message"]
    assert not ContentTemplate.objects.exists()


def test_preview_renders_a_record_by_key_or_at_random(workspace, template, api):
    by_key = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {"key": "2"})
    assert by_key.status_code == 200, by_key.content
    body = by_key.json()
    assert (body["entity"], body["key"]) == ("customer", 2)
    assert body["fields"]["subject"] == "Hello Ben"
    assert body["fields"]["html"] == "<p>Dear Ben from Berlin,</p>"
    assert "Dear Ben from Berlin," in body["fields"]["text"]  # generated from the HTML
    random = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {}).json()
    assert random["fields"]["subject"] in ("Hello Anna", "Hello Ben", "Hello Chloe")


def test_preview_of_a_booking_reaches_its_customer(workspace, travel, api):
    template = ContentTemplate.objects.create(
        workspace=workspace, name="Trip", channel="email", entity_key="booking",
        content={"subject": "{{ profile.first_name }}: trip {{ target.booking_id }}", "html": "<p>{{ target.amount|money('EUR') }}</p>"})
    body = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {"key": "1000"}).json()
    assert body["fields"]["subject"] == "Anna: trip 1000"
    assert body["fields"]["html"] == "<p>€\xa01.250,00</p>"  # Anna reads Dutch


def test_preview_of_a_missing_key_says_so(workspace, template, api):
    for key in ("999", "not-a-number"):
        response = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {"key": key})
        assert response.status_code == 400
        assert response.json() == {"key": [f"no customer with key {key!r}"]}


def test_proof_goes_to_the_test_addresses_marked_proof(workspace, template, email_config, sink, sends, api):
    response = api(workspace, "marketer", "POST", f"templates/{template.pk}/proof/",
                   {"addresses": ["qa@example.test", "boss@example.test"], "key": "3"})
    assert response.status_code == 202, response.content
    delivery = Delivery.objects.get(pk=response.json()["delivery"])
    assert delivery.proof and response.json()["addresses"] == 2
    sends()
    received = sink.received()
    assert sorted(r.rcpt_tos[0] for r in received) == ["boss@example.test", "qa@example.test"]
    assert all(b"Subject: [PROOF] Hello Chloe" in r.data for r in received)
    assert set(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"sent"}


def test_a_proof_to_a_bad_address_is_refused(workspace, template, api):
    response = api(workspace, "marketer", "POST", f"templates/{template.pk}/proof/", {"addresses": ["nope"]})
    assert response.status_code == 400 and "not an email address: nope" in response.json()["addresses"][0]
    assert not Delivery.objects.exists()


def test_a_template_a_campaign_uses_cannot_be_deleted(workspace, template, api):
    from apps.campaigns.models import Campaign, CampaignVersion

    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1, definition={
        "nodes": [{"id": "mail", "type": "email", "settings": {"template_id": template.pk}}], "edges": []})
    response = api(workspace, "marketer", "DELETE", f"templates/{template.pk}/")
    assert response.status_code == 409 and "Spring" in response.json()["detail"]
    assert ContentTemplate.objects.filter(pk=template.pk).exists()


def test_viewers_read_but_do_not_write(workspace, template, api):
    assert api(workspace, "viewer", "GET", f"templates/{template.pk}/").status_code == 200
    response = api(workspace, "viewer", "PATCH", f"templates/{template.pk}/", {"name": "x"})
    assert response.status_code == 403
    assert api(workspace, "viewer", "POST", f"templates/{template.pk}/preview/", {}).status_code == 403
    assert ContentTemplate.objects.get(pk=template.pk).name == "Welcome"


def test_a_letter_keeps_its_window_position_and_margins(workspace, travel, api):
    body = {"name": "Letter", "channel": "direct_mail", "content": {
        "html": "<p>{{ profile.last_name }}</p>", "address_position": {"left_mm": 110, "top_mm": 50},
        "margins": {"top_mm": 15}}}
    response = api(workspace, "marketer", "POST", "templates/", body)
    assert response.status_code == 201, response.content
    assert response.json()["content"]["address_position"] == {"left_mm": 110, "top_mm": 50}
    bad = api(workspace, "marketer", "POST", "templates/", {**body, "name": "Bad", "content": {
        "html": "x", "address_position": {"left_mm": "far"}}})
    assert bad.status_code == 400 and "millimetres" in bad.json()["content"][0]


def test_the_list_takes_a_fixed_number_of_queries(workspace, travel, api, django_assert_max_num_queries):
    for i in range(5):
        ContentTemplate.objects.create(workspace=workspace, name=f"T{i}", channel="email", content=CONTENT)
    api(workspace, "viewer", "GET", "templates/")  # the key is made outside the count
    with django_assert_max_num_queries(12):
        response = api(workspace, "viewer", "GET", "templates/")
    assert response.json()["count"] == 5


def test_a_random_record_of_a_big_table_comes_from_a_block_sample(workspace, travel, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.channels import selectors

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE ws_{workspace.pk}.customer")
    # the three customers count as a big table: the sampled query runs (and falls back when empty)
    monkeypatch.setattr(selectors, "RANDOM_SAMPLE_ROWS", 0.2)
    seen = set()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            entity, key, context = selectors.preview_context(workspace=workspace)
            assert entity == "customer" and context["profile"]["customer_id"] == key
            seen.add(key)
    assert seen <= {1, 2, 3}
    assert sum("TABLESAMPLE SYSTEM" in q["sql"] for q in queries.captured_queries) == 5
