"""The campaigns API as a marketer, an approver and a partner use it with workspace API
keys: a draft edited and validated, a test run with its counts, publishing and starting by
approvers only, the lifecycle's refusals, the partner trigger with its minimum interval,
isolation, roles and the OpenAPI schema."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.campaigns import executor, services
from apps.campaigns.models import Campaign, CampaignVersion, Run
from tests.factories import make_api_key
from tests.isolation.world import database_digest


class Api:
    """A client with a workspace API key and the workspace's URL prefix."""

    def __init__(self, workspace, role: str = "marketer"):
        _, raw = make_api_key(workspace, role=role, name=f"test {role} {workspace.slug}")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.prefix = f"/api/v1/workspaces/{workspace.slug}/"

    def under(self, workspace) -> Api:
        """The same key, sending to another workspace's URLs."""
        other = Api.__new__(Api)
        other.client, other.prefix = self.client, f"/api/v1/workspaces/{workspace.slug}/"
        return other

    def get(self, path: str, **params):
        return self.client.get(self.prefix + path, params)

    def send(self, method: str, path: str, body: Any = None):
        return self.client.generic(method, self.prefix + path, json.dumps(body) if body is not None else "",
                                   content_type="application/json")

    def post(self, path: str, body: Any = None):
        return self.send("POST", path, body)






@pytest.fixture
def marketer(workspace):
    return Api(workspace, "marketer")


@pytest.fixture
def approver(workspace):
    return Api(workspace, "approver")


def edge(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


NODES = [{"id": "start", "type": "start"},
         {"id": "everyone", "type": "build_audience", "settings": {"definition": {
             "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 1}}}},
         {"id": "tiers", "type": "split", "settings": {"subsets": [
             {"name": "gold", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}}], "complement": True}},
         {"id": "mail", "type": "email", "settings": {"content": {"subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
         {"id": "end", "type": "end"},
         {"id": "end2", "type": "end"}]
COMPLETE = {"nodes": NODES, "edges": [edge("start", "everyone"), edge("everyone", "tiers"),
                                      edge("tiers", "mail", "gold"), edge("tiers", "end2", "others"),
                                      edge("mail", "end")]}
HALF = {"nodes": NODES, "edges": COMPLETE["edges"][:3]}
SIMPLE = {"nodes": [{"id": "start", "type": "start"},
                    {"id": "nl", "type": "build_audience", "settings": {"definition": {
                        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                    {"id": "end", "type": "end"}],
          "edges": [edge("start", "nl"), edge("nl", "end")]}


def published(workspace, name="Partner feed", definition=SIMPLE) -> Campaign:
    campaign = services.campaign_create(workspace=workspace, actor=None, name=name, definition=definition)
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


# --- the whole path -------------------------------------------------------------------------

def test_a_campaign_is_drafted_validated_tested_published_and_started(workspace, travel, marketer, approver,
                                                                       queue):
    # create: a draft with a lone Start
    response = marketer.post("campaigns/", {"name": "Spring", "description": "Gold first"})
    assert response.status_code == 201, response.content
    body = response.json()
    pk = body["id"]
    assert {k: body[k] for k in ("name", "description", "status", "latest_version", "published_version",
                                 "last_run", "created_by")} == {
        "name": "Spring", "description": "Gold first", "status": "draft", "latest_version": 1,
        "published_version": None, "last_run": None, "created_by": None}
    assert body["definition"] == {"nodes": [{"id": "start", "type": "start", "settings": {}}], "edges": []}
    assert body["url"] == f"http://testserver/api/v1/workspaces/northwind/campaigns/{pk}/"

    # a half-built draft saves, but does not validate: each problem names its activity
    response = marketer.send("PUT", f"campaigns/{pk}/draft/", {"definition": HALF})
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("version", "published", "definition")} == {
        "version": 1, "published": False, "definition": HALF}
    response = marketer.post(f"campaigns/{pk}/validate/")
    assert response.status_code == 400
    assert response.json() == {"problems": [
        {"node": "end", "message": "is not connected to the Start."},
        {"node": "end2", "message": "is not connected to the Start."},
        {"node": "end", "message": "End takes 1 or more input(s); it has 0."},
        {"node": "end2", "message": "End takes 1 or more input(s); it has 0."},
        {"node": "tiers", "message": "outlet 'others' leads nowhere: connect it (an End closes a branch)."},
        {"node": "mail", "message": "outlet 'out' leads nowhere: connect it (an End closes a branch)."},
    ]}

    # the complete one validates; a test run goes through the email without sending
    assert marketer.send("PUT", f"campaigns/{pk}/draft/", {"definition": COMPLETE}).status_code == 200
    response = marketer.post(f"campaigns/{pk}/validate/")
    assert (response.status_code, response.json()) == (200, {"valid": True, "activities": 6})
    response = marketer.post(f"campaigns/{pk}/test-runs/")
    assert response.status_code == 202, response.content
    test_run = response.json()
    assert response["Location"] == test_run["url"]
    assert {k: test_run[k] for k in ("campaign", "version", "mode", "status", "trigger")} == {
        "campaign": pk, "version": 1, "mode": "test", "status": "running", "trigger": "manual"}
    assert queue() == 6

    # the run: each activity with its counts, each edge with its rows
    response = marketer.get(f"runs/{test_run['id']}/")
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "done"
    activities = {a["node_id"]: a for a in run["activities"]}
    assert {n: (a["status"], a["rows_in"], a["rows_out"]) for n, a in activities.items()} == {
        "start": ("done", None, None), "everyone": ("done", None, 3), "tiers": ("done", 3, 3),
        "mail": ("done", 1, 1), "end": ("done", 1, None), "end2": ("done", 2, None)}
    assert activities["tiers"]["outlets"] == {"gold": {"entity": "customer", "count": 1},
                                              "others": {"entity": "customer", "count": 2}}
    assert activities["mail"]["report"] == {"channel": "email", "recipients": 1, "excluded": {}, "test_mode": True,
                                            "per_row": False, "profile": "customer",
                                            "samples": [{"address": "anna@example.test", "from_name": "Northwind",
                                                         "subject": "Hi", "html": "<p>Hi</p>"}]}
    assert run["edges"] == [
        {"from": "start", "outlet": "out", "to": "everyone", "count": None},
        {"from": "everyone", "outlet": "out", "to": "tiers", "count": 3},
        {"from": "tiers", "outlet": "gold", "to": "mail", "count": 1},
        {"from": "tiers", "outlet": "others", "to": "end2", "count": 2},
        {"from": "mail", "outlet": "out", "to": "end", "count": 1},
    ]
    response = marketer.get(f"runs/{test_run['id']}/activities/everyone/")
    assert response.status_code == 200
    everyone = response.json()
    assert everyone["rows_out"] == 3
    assert len(everyone["sql"]) == len([e for e in everyone["log"] if "sql" in e]) >= 2
    assert any(statement.startswith("CREATE UNLOGGED TABLE") for statement in everyone["sql"])
    assert marketer.get(f"runs/{test_run['id']}/activities/nope/").status_code == 404

    # publishing is the approver's: the marketer's attempt changes nothing
    before = database_digest()
    response = marketer.post(f"campaigns/{pk}/publish/")
    assert response.status_code == 403
    assert database_digest() == before
    response = approver.post(f"campaigns/{pk}/publish/")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("status", "latest_version", "published_version")} == {
        "status": "live", "latest_version": 1, "published_version": 1}

    # start: a live run of the published version
    assert marketer.post(f"campaigns/{pk}/start/").status_code == 403
    response = approver.post(f"campaigns/{pk}/start/")
    assert response.status_code == 202, response.content
    live = response.json()
    assert (live["mode"], live["version"], live["trigger"]) == ("live", 1, "manual")
    # the live run hands its recipients to a delivery (sent by the messages layer)
    assert queue() == 6
    mail = marketer.get(f"runs/{live['id']}/activities/mail/").json()
    assert mail["status"] == "done", mail["error"]
    assert marketer.get(f"deliveries/{mail['report']['delivery']}/").json()["total"] == 1
    response = marketer.get(f"campaigns/{pk}/runs/")
    assert response.status_code == 200
    # every activity is done; the run is finished when its delivery has sent its message
    assert [(r["id"], r["mode"], r["status"]) for r in response.json()["results"]] == [
        (live["id"], "live", "running"), (test_run["id"], "test", "done")]
    listed = marketer.get("campaigns/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["last_run"]["id"] == live["id"]
    assert (listed["results"][0]["last_run"]["status"], listed["results"][0]["last_run"]["mode"]) == (
        "running", "live")

    # editing after publishing makes version 2; the published version stays as it was
    response = marketer.send("PUT", f"campaigns/{pk}/draft/", {"definition": SIMPLE})
    assert (response.json()["version"], response.json()["published"]) == (2, False)
    detail = marketer.get(f"campaigns/{pk}/").json()
    assert (detail["latest_version"], detail["published_version"], detail["definition"]) == (2, 1, SIMPLE)
    assert [v["number"] for v in detail["versions"]] == [2, 1]
    assert CampaignVersion.objects.get(campaign_id=pk, number=1).definition == COMPLETE


def test_the_list_filters_by_status_and_costs_the_same_queries_for_more_campaigns(
        workspace, travel, marketer):
    published(workspace, "Live one")
    services.campaign_create(workspace=workspace, actor=None, name="Draft one")
    response = marketer.get("campaigns/", status="live")
    assert [c["name"] for c in response.json()["results"]] == ["Live one"]
    assert marketer.get("campaigns/", status="nope").status_code == 400
    # the summary (versions, last run) is subqueries of the page's query: no query per campaign
    marketer.get("campaigns/")
    with CaptureQueriesContext(connection) as two:
        assert marketer.get("campaigns/").json()["count"] == 2
    for n in range(3):
        published(workspace, f"More {n}")
    with CaptureQueriesContext(connection) as five:
        assert marketer.get("campaigns/").json()["count"] == 5
    assert len(five) == len(two) <= 6


# --- refusals -------------------------------------------------------------------------------

def test_state_refusals_are_409_with_the_sentence_and_change_nothing(workspace, travel, marketer, approver,
                                                                     queue):
    draft = services.campaign_create(workspace=workspace, actor=None, name="Draft", definition=SIMPLE)
    live = published(workspace, "Live")
    cases = [
        (approver, f"campaigns/{draft.pk}/pause/", "A draft campaign cannot be paused."),
        (approver, f"campaigns/{draft.pk}/start/", "Only a published, live campaign can start; this one is draft."),
        (approver, f"campaigns/{draft.pk}/stop/", "A draft campaign cannot be stopped."),
        (approver, f"campaigns/{live.pk}/publish/", "There is nothing new to publish: the latest version is "
                                                    "published."),
        (approver, f"campaigns/{live.pk}/resume/", "A live campaign cannot be resumed."),
    ]
    for api, path, sentence in cases:
        before = database_digest()
        response = api.post(path)
        assert (response.status_code, response.json()) == (409, {"detail": sentence}), path
        assert database_digest() == before, path

    # delete: only a draft that never ran
    before = database_digest()
    response = marketer.send("DELETE", f"campaigns/{live.pk}/")
    assert (response.status_code, response.json()) == (409, {
        "detail": "Only a draft campaign that never ran can be deleted; archive this one instead."})
    assert database_digest() == before
    tested = services.campaign_create(workspace=workspace, actor=None, name="Tested", definition=SIMPLE)
    services.test_run_start(workspace=workspace, actor=None, campaign=tested)
    queue()
    assert marketer.send("DELETE", f"campaigns/{tested.pk}/").status_code == 409
    assert marketer.send("DELETE", f"campaigns/{draft.pk}/").status_code == 204
    assert not Campaign.objects.filter(pk=draft.pk).exists()

    # archived: no edits, no runs, but a duplicate is a fresh draft
    assert approver.post(f"campaigns/{live.pk}/archive/").json()["status"] == "archived"
    response = marketer.send("PUT", f"campaigns/{live.pk}/draft/", {"definition": SIMPLE})
    assert (response.status_code, response.json()) == (409, {
        "detail": "An archived campaign cannot be edited; duplicate it."})
    response = marketer.post(f"campaigns/{live.pk}/test-runs/")
    assert (response.status_code, response.json()) == (409, {"detail": "An archived campaign cannot run; "
                                                                        "duplicate it."})
    response = marketer.post(f"campaigns/{live.pk}/duplicate/")
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("name", "status", "latest_version", "published_version",
                                            "definition")} == {
        "name": "Live (copy)", "status": "draft", "latest_version": 1, "published_version": None,
        "definition": SIMPLE}


def test_the_lifecycle_moves_through_pause_resume_close_stop(workspace, travel, approver):
    campaign = published(workspace)
    steps = [("pause", "paused"), ("resume", "live"), ("close", "closed"), ("stop", "stopped"),
             ("archive", "archived")]
    for action, status in steps:
        response = approver.post(f"campaigns/{campaign.pk}/{action}/")
        assert (response.status_code, response.json()["status"]) == (200, status), action


def test_definition_problems_are_400_naming_the_activity(workspace, travel, marketer, approver):
    response = marketer.post("campaigns/", {"name": "Broken", "definition": {"nodes": [
        {"id": "start", "type": "start"}, {"id": "x", "type": "teleport"}], "edges": []}})
    assert (response.status_code, response.json()) == (400, {"problems": [
        {"node": "x", "message": "unknown activity type 'teleport' (at $.nodes[1].type)."}]})
    assert not Campaign.objects.filter(workspace=workspace).exists()
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Half", definition=HALF)
    before = database_digest()
    response = approver.post(f"campaigns/{campaign.pk}/publish/")
    assert response.status_code == 400
    assert [p["node"] for p in response.json()["problems"]] == ["end", "end2", "end", "end2", "tiers", "mail"]
    response = marketer.post(f"campaigns/{campaign.pk}/test-runs/")
    assert response.status_code == 400
    assert database_digest() == before
    response = marketer.post("campaigns/", {"name": "Half"})
    assert (response.status_code, response.json()) == (400, {"name": ["A campaign named 'Half' already exists."]})


# --- the partner trigger --------------------------------------------------------------------

def test_a_partner_triggers_at_most_once_per_interval(workspace, travel, approver, queue, settings):
    settings.CAMPAIGN_TRIGGER_MIN_INTERVAL_S = 60
    campaign = published(workspace)
    response = approver.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {"offer": "SPRING24", "n": 2}})
    assert response.status_code == 202, response.content
    first = response.json()
    assert {k: first[k] for k in ("mode", "trigger", "variables", "version")} == {
        "mode": "live", "trigger": "api", "variables": {"offer": "SPRING24", "n": 2}, "version": 1}
    assert queue() == 3
    assert Run.objects.get(pk=first["id"]).status == "done"

    # again at once: too soon, and nothing was created (the clock restarts here: running the
    # first trigger's activities above may take seconds on a loaded machine)
    Run.objects.filter(pk=first["id"]).update(created_at=timezone.now())
    before = database_digest()
    response = approver.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {}})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "try again in 60 s" in response.json()["detail"]
    assert database_digest() == before

    # 45 s later: 15 s to go
    Run.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(seconds=45))
    response = approver.post(f"campaigns/{campaign.pk}/trigger/")
    assert (response.status_code, response["Retry-After"]) == (429, "15")

    # a manual start or a test run does not count against the partner's interval
    services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    # 61 s later: allowed again
    Run.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(seconds=61))
    response = approver.post(f"campaigns/{campaign.pk}/trigger/")
    assert response.status_code == 202
    assert response.json()["variables"] == {}
    assert Run.objects.filter(campaign=campaign, trigger="api").count() == 2


def test_trigger_refusals(workspace, travel, approver, marketer):
    campaign = published(workspace)
    draft = services.campaign_create(workspace=workspace, actor=None, name="Draft", definition=SIMPLE)
    before = database_digest()
    assert marketer.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {}}).status_code == 403
    response = approver.post(f"campaigns/{draft.pk}/trigger/", {"variables": {}})
    assert (response.status_code, response.json()) == (409, {
        "detail": "Only a published, live campaign can start; this one is draft."})
    response = approver.post(f"campaigns/{campaign.pk}/trigger/", {"variables": ["not", "an", "object"]})
    assert (response.status_code, response.json()) == (400, {"variables": ["Variables are a JSON object."]})
    response = approver.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {"blob": "x" * 17000}})
    assert (response.status_code, response.json()) == (400, {"variables": ["Variables take at most 16 KiB of JSON."]})
    assert database_digest() == before
    # a paused campaign takes no trigger
    services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
    response = approver.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {}})
    assert (response.status_code, response.json()) == (409, {
        "detail": "Only a published, live campaign can start; this one is paused."})


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_triggers_make_one_run(workspace, travel, monkeypatch):
    # The campaign row is locked before the last trigger is read: the second waits for the
    # first to commit, then sees its run and is refused.
    monkeypatch.setattr(executor, "DISPATCH", lambda activity_id: None)
    campaign = published(workspace)
    # Two keys: one key's requests would already queue behind each other on its last_used_at
    # update, which would hide a missing lock.
    raws = [make_api_key(workspace, role=role, name=f"partner {role}")[1] for role in ("approver", "admin")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def trigger(raw):
        try:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
            barrier.wait(timeout=10)
            response = client.post(f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/trigger/",
                                   "{}", content_type="application/json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger, args=(raw,)) for raw in raws]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [202, 429]
    assert Run.objects.filter(campaign=campaign, trigger="api").count() == 1


# --- isolation, roles, dispatch, schema -----------------------------------------------------

def test_an_api_key_of_another_workspace_gets_404_and_changes_nothing(workspace, other_workspace, travel):
    campaign = published(workspace)
    run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    own = Api(other_workspace, "admin")
    intruder = own.under(workspace)
    before = database_digest()
    assert intruder.get(f"campaigns/{campaign.pk}/").status_code == 404
    assert intruder.post(f"campaigns/{campaign.pk}/trigger/", {"variables": {}}).status_code == 404
    assert intruder.get(f"runs/{run.pk}/").status_code == 404
    # under its own workspace, the victim's ids are not found either
    assert own.get(f"campaigns/{campaign.pk}/").status_code == 404
    assert own.post(f"campaigns/{campaign.pk}/start/").status_code == 404
    assert own.get(f"runs/{run.pk}/activities/nl/").status_code == 404
    assert database_digest() == before


def test_a_viewer_key_reads_but_every_write_is_403(workspace, travel):
    campaign = published(workspace)
    viewer = Api(workspace, "viewer")
    assert viewer.get("campaigns/").status_code == 200
    assert viewer.get(f"campaigns/{campaign.pk}/draft/").status_code == 200
    assert viewer.get("activity-types/").status_code == 200
    before = database_digest()
    writes = [("POST", "campaigns/", {"name": "X"}), ("PATCH", f"campaigns/{campaign.pk}/", {"name": "Y"}),
              ("DELETE", f"campaigns/{campaign.pk}/", None),
              ("PUT", f"campaigns/{campaign.pk}/draft/", {"definition": SIMPLE}),
              ("POST", f"campaigns/{campaign.pk}/validate/", None),
              ("POST", f"campaigns/{campaign.pk}/test-runs/", None),
              ("POST", f"campaigns/{campaign.pk}/duplicate/", None),
              ("POST", f"campaigns/{campaign.pk}/start/", None),
              ("POST", f"campaigns/{campaign.pk}/trigger/", {"variables": {}}),
              ("POST", f"campaigns/{campaign.pk}/archive/", None)]
    for method, path, body in writes:
        response = viewer.send(method, path, body)
        assert response.status_code == 403, (method, path, response.status_code)
    assert database_digest() == before


def test_the_activity_catalog(workspace, marketer):
    types = {t["type"]: t for t in marketer.get("activity-types/").json()}
    assert types["start"] == {"type": "start", "label": "Start", "min_inputs": 0, "max_inputs": 0, "start": True,
                              "channel": False}
    assert types["email"]["channel"] is True
    assert types["combine"]["max_inputs"] is None


def test_a_test_run_dispatches_its_first_activity_only_after_commit(workspace, travel, marketer, monkeypatch,
                                                                    django_capture_on_commit_callbacks):
    from apps.campaigns import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.execute_activity, "delay", sent.append)
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Spring", definition=SIMPLE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert marketer.post(f"campaigns/{campaign.pk}/test-runs/").status_code == 202
    # nothing reached the broker inside the request's transaction (a rolled-back request
    # leaves no task behind); the hook sends the Start once the transaction commits
    assert (sent, len(callbacks)) == ([], 1)
    callbacks[0]()
    start = Run.objects.get(campaign=campaign).activities.get(node_id="start")
    assert sent == [start.pk]


def test_the_openapi_schema_describes_every_campaign_endpoint(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    expected = {
        "campaigns/": {"get", "post"},
        "campaigns/{id}/": {"get", "patch", "delete"},
        "campaigns/{id}/draft/": {"get", "put"},
        "campaigns/{id}/runs/": {"get"},
        "runs/{id}/": {"get"},
        "runs/{id}/activities/{node_id}/": {"get"},
        "activity-types/": {"get"},
        "campaigns/definition-schema/": {"get"},
        "runs/{id}/stop/": {"post"},
        "runs/{id}/confirm/": {"post"},
        **{f"campaigns/{{id}}/{action}/": {"post"} for action in (
            "validate", "test-runs", "duplicate", "publish", "start", "stop", "pause", "resume", "close",
            "archive", "trigger")},
    }
    for path, methods in expected.items():
        assert set(schema["paths"][prefix + path]) == methods, path
    trigger = schema["paths"][prefix + "campaigns/{id}/trigger/"]["post"]["responses"]
    assert set(trigger) == {"202", "400", "401", "403", "404", "409", "429"}  # every operation: its errors too
    validate = schema["paths"][prefix + "campaigns/{id}/validate/"]["post"]["responses"]
    # the problems, or (input that does not parse) DRF's field errors
    assert validate["400"]["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/CampaignProblems"},
        {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"type": "array", "items": {"type": "string"}}]}]}
