"""Controlling one run: stopping it (API and run page), the confirmation before a live
run's first send (the gate, the confirm endpoint and button, stop skipping what waits),
trigger variables in activity settings, and the definition's JSON Schema."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.campaigns import executor, services
from apps.campaigns.definition_schema import SCHEMA_PATH, definition_schema, schema_problems
from apps.campaigns.graph import GraphError, check_graph
from apps.campaigns.models import ActivityRun, Campaign, Run
from tests.campaigns.test_api import Api
from tests.campaigns.test_executor import keys
from tests.factories import UserFactory, grant
from tests.isolation.world import database_digest


def edge(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


def build(node_id, value, entity="customer", attr="country"):
    return {"id": node_id, "type": "build_audience", "settings": {"definition": {
        "entity": entity, "rule": {"attr": attr, "op": "eq", "value": value}}}}


MAILING = {"nodes": [{"id": "start", "type": "start"}, build("nl", "NL"),
                     {"id": "mail", "type": "email", "settings": {"content": {"subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
                     {"id": "end", "type": "end"}],
           "edges": [edge("start", "nl"), edge("nl", "mail"), edge("mail", "end")]}
TWO_MAILS = {"nodes": [{"id": "start", "type": "start"},
                       {"id": "everyone", "type": "build_audience", "settings": {"definition": {
                           "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 1}}}},
                       {"id": "tiers", "type": "split", "settings": {"subsets": [
                           {"name": "gold", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}}],
                           "complement": True}},
                       {"id": "mail", "type": "email", "settings": {"content": {"subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
                       {"id": "mail2", "type": "email", "settings": {"content": {"subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
                       {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}],
             "edges": [edge("start", "everyone"), edge("everyone", "tiers"), edge("tiers", "mail", "gold"),
                       edge("tiers", "mail2", "others"), edge("mail", "end"), edge("mail2", "end2")]}


@pytest.fixture
def sent(monkeypatch):
    """The channel activities' run replaced by a recorder (sending is the messages layer's,
    tested there): returns the ids of the channel activities that ran, in order."""
    from apps.campaigns.activities import REGISTRY

    ran: list[str] = []

    def fake_send(self, ctx):
        ran.append(ctx.node["id"])
        ctx.activity_run.report = {"channel": self.type, "test_mode": ctx.test_mode}
        return {"out": ctx.inputs[0]}

    for activity in REGISTRY.values():
        if activity.sends:
            monkeypatch.setattr(type(activity), "run", fake_send)
    return ran


def published(workspace, definition, *, confirm=False, name="Spring"):
    campaign = services.campaign_create(workspace=workspace, actor=None, name=name, definition=definition)
    if confirm:
        services.campaign_update(workspace=workspace, actor=None, campaign=campaign, confirm_before_send=True)
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def statuses(run):
    return dict(ActivityRun.objects.filter(run=run).values_list("node_id", "status"))


# --- confirmation before the first send ---------------------------------------------------

def test_a_live_run_waits_at_its_first_channel_until_confirmed(workspace, travel, queue, alice, sent):
    # given a campaign that asks for confirmation
    campaign = published(workspace, MAILING, confirm=True)
    # when it runs live
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    run.refresh_from_db()
    # then the channel waits, untouched, and the run is still open
    assert statuses(run) == {"start": "done", "nl": "done", "mail": "awaiting_confirmation", "end": "waiting"}
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert (mail.attempts, mail.report, mail.started_at, sent) == (0, {}, None, [])
    assert (run.status, run.confirmed_at, run.confirmed_by) == ("running", None, None)
    # when an approver confirms
    services.run_confirm(workspace=workspace, actor=alice, run=run)
    assert queue() == 2
    run.refresh_from_db()
    # then it went past the gate and the run finished
    mail.refresh_from_db()
    assert (sent, mail.attempts, mail.report) == (["mail"], 1, {"channel": "email", "test_mode": False})
    assert (run.confirmed_by, run.status) == (alice, "done")
    assert run.confirmed_at is not None
    assert statuses(run) == {"start": "done", "nl": "done", "mail": "done", "end": "done"}


def test_confirming_queues_every_waiting_channel(workspace, travel, queue, sent):
    campaign = published(workspace, TWO_MAILS, confirm=True)
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    assert {k: v for k, v in statuses(run).items() if k in ("mail", "mail2")} == {
        "mail": "awaiting_confirmation", "mail2": "awaiting_confirmation"}
    assert sent == []
    services.run_confirm(workspace=workspace, actor=None, run=run)
    assert queue() == 4  # two channels, two ends
    run.refresh_from_db()
    assert sorted(sent) == ["mail", "mail2"]
    assert run.status == "done"


def test_a_test_run_and_a_campaign_without_the_setting_never_wait(workspace, travel, queue, sent):
    campaign = published(workspace, MAILING, confirm=True)
    test_run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    test_run.refresh_from_db()
    assert (test_run.status, statuses(test_run)["mail"]) == ("done", "done")
    plain = published(workspace, MAILING, name="Plain")
    run = services.campaign_start(workspace=workspace, actor=None, campaign=plain)
    queue()
    assert statuses(run)["mail"] == "done"
    assert sent == ["mail", "mail"]


def test_stopping_a_waiting_run_skips_what_waits_and_it_cannot_be_confirmed(workspace, travel, queue, sent):
    from django.core.exceptions import ValidationError

    campaign = published(workspace, MAILING, confirm=True)
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    services.run_stop(workspace=workspace, actor=None, run=run)
    run.refresh_from_db()
    assert run.status == "stopped"
    assert statuses(run) == {"start": "done", "nl": "done", "mail": "skipped", "end": "skipped"}
    with pytest.raises(ValidationError, match="stopped run cannot be confirmed"):
        services.run_confirm(workspace=workspace, actor=None, run=run)
    assert (queue(), sent) == (0, [])


def test_confirm_and_stop_over_the_api_need_an_approver(workspace, travel, queue, sent):
    marketer, approver = Api(workspace, "marketer"), Api(workspace, "approver")
    campaign = published(workspace, MAILING)
    # confirm_before_send is the approvers' to set
    before = database_digest()
    response = marketer.send("PATCH", f"campaigns/{campaign.pk}/", {"confirm_before_send": True})
    assert response.status_code == 403
    assert database_digest() == before
    response = approver.send("PATCH", f"campaigns/{campaign.pk}/", {"confirm_before_send": True})
    assert (response.status_code, response.json()["confirm_before_send"]) == (200, True)
    response = approver.post(f"campaigns/{campaign.pk}/start/")
    run_id = response.json()["id"]
    queue()
    # a marketer may not confirm
    before = database_digest()
    assert marketer.post(f"runs/{run_id}/confirm/").status_code == 403
    assert database_digest() == before
    response = approver.post(f"runs/{run_id}/confirm/")
    assert response.status_code == 200
    body = response.json()
    assert body["confirmed_by"] is None  # an API key has no user
    assert body["confirmed_at"] is not None
    assert approver.post(f"runs/{run_id}/confirm/").status_code == 409  # once
    queue()
    assert (Run.objects.get(pk=run_id).status, sent) == ("done", ["mail"])
    assert approver.post(f"runs/{run_id}/stop/").status_code == 409  # finished


def test_stop_one_run_over_the_api(workspace, travel, queue, sent):
    approver = Api(workspace, "approver")
    campaign = published(workspace, MAILING, confirm=True)
    first = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    second = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    assert Api(workspace, "marketer").post(f"runs/{first.pk}/stop/").status_code == 403
    response = approver.post(f"runs/{first.pk}/stop/")
    assert (response.status_code, response.json()["status"]) == (200, "stopped")
    # only that run: the other one and the campaign go on
    assert Run.objects.get(pk=second.pk).status == "running"
    assert Campaign.objects.get(pk=campaign.pk).status == "live"
    assert approver.post(f"runs/{first.pk}/stop/").status_code == 409


def test_the_run_page_shows_confirm_and_stop_to_approvers(workspace, travel, queue, client_for, mallory, sent):
    approver = grant(UserFactory(email="ann@example.test"), workspace, "approver")
    campaign = published(workspace, MAILING, confirm=True)
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    page = reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk})
    html = client_for(approver).get(page).content.decode()
    assert "Confirm sending" in html and "Stop this run" in html
    assert "Waiting for confirmation before sending:</strong> mail." in html
    assert 'data-node="mail" data-status="awaiting_confirmation"' in html and ">to confirm</text>" in html
    marketer_html = client_for(mallory).get(page).content.decode()
    assert "Confirm sending" not in marketer_html and "Stop this run" not in marketer_html
    assert "An approver confirms it." in marketer_html
    confirm = reverse("camp-run-confirm", kwargs={"workspace_slug": workspace.slug, "pk": run.pk})
    assert client_for(mallory).post(confirm).status_code == 403
    response = client_for(approver).post(confirm)
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.confirmed_by == approver
    assert statuses(run)["mail"] == "queued"
    html = client_for(approver).get(page).content.decode()
    assert "Sending confirmed by ann@example.test" in html
    stop = reverse("camp-run-stop", kwargs={"workspace_slug": workspace.slug, "pk": run.pk})
    client_for(approver).post(stop)
    run.refresh_from_db()
    assert run.status == "stopped"
    assert statuses(run)["mail"] == "skipped"


def test_the_campaign_page_sets_confirm_before_send(workspace, travel, client_for, mallory):
    approver = grant(UserFactory(email="ann@example.test"), workspace, "approver")
    campaign = published(workspace, MAILING)
    lifecycle = reverse("camp-lifecycle", kwargs={"workspace_slug": workspace.slug, "pk": campaign.pk})
    assert client_for(mallory).post(lifecycle, {"action": "confirm_before_send", "value": "on"}).status_code == 403
    assert not Campaign.objects.get(pk=campaign.pk).confirm_before_send
    client_for(approver).post(lifecycle, {"action": "confirm_before_send", "value": "on"})
    assert Campaign.objects.get(pk=campaign.pk).confirm_before_send
    detail = reverse("camp-detail", kwargs={"workspace_slug": workspace.slug, "pk": campaign.pk})
    assert "Live runs wait for an approver's confirmation" in client_for(approver).get(detail).content.decode()
    client_for(approver).post(lifecycle, {"action": "confirm_before_send", "value": "off"})
    assert not Campaign.objects.get(pk=campaign.pk).confirm_before_send


# --- trigger variables ---------------------------------------------------------------------

VARIABLE = {"nodes": [{"id": "start", "type": "start"},
                      build("pick", {"$var": "country", "default": "NL"}),
                      {"id": "end", "type": "end"}],
            "edges": [edge("start", "pick"), edge("pick", "end")]}


def test_trigger_variables_pick_the_keys(workspace, travel, queue, settings):
    settings.CAMPAIGN_TRIGGER_MIN_INTERVAL_S = 0
    campaign = published(workspace, VARIABLE)
    german = services.campaign_trigger(workspace=workspace, actor=None, campaign=campaign,
                                       variables={"country": "DE"})
    queue()
    french = services.campaign_trigger(workspace=workspace, actor=None, campaign=campaign,
                                       variables={"country": "FR"})
    queue()
    by_hand = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)  # the default
    queue()
    assert (keys(german, "pick"), keys(french, "pick"), keys(by_hand, "pick")) == ([2], [3], [1])
    # the stored definition keeps the placeholder
    assert campaign.versions.get().definition["nodes"][1]["settings"]["definition"]["rule"]["value"] == {
        "$var": "country", "default": "NL"}


def test_a_missing_variable_without_default_fails_the_activity_naming_it(workspace, travel, queue):
    definition = {"nodes": [{"id": "start", "type": "start"},
                            {"id": "pick", "type": "build_audience", "label": "Pick",
                             "settings": {"definition": {"entity": {"$var": "entity"},
                                                         "rule": {"attr": "customer_id", "op": "gte", "value": 1}}}},
                            {"id": "end", "type": "end"}],
                  "edges": [edge("start", "pick"), edge("pick", "end")]}
    # at publish a placeholder without default is checked as empty: here that cannot pass
    with pytest.raises(GraphError) as exc:
        check_graph(workspace=workspace, definition=definition)
    assert any("give each placeholder a \"default\"" in m for m in exc.value.messages), exc.value.messages
    # with a default it publishes; a placeholder in a free place (End's note) needs none
    definition["nodes"][1]["settings"]["definition"]["entity"] = {"$var": "entity", "default": "customer"}
    definition["nodes"][1]["settings"]["definition"]["rule"]["value"] = {"$var": "minimum", "default": 1}
    definition["nodes"][2]["settings"] = {"note": {"$var": "note"}}
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Vars", definition=definition)
    version = services.latest_version(campaign)
    check_graph(workspace=workspace, definition=version.definition)

    def run_with(variables):
        run = executor.run_create(campaign=campaign, version=version, mode="live", variables=variables)
        queue()
        run.refresh_from_db()
        return run

    # a run whose trigger misses a variable without a default: that activity fails, naming it
    run = run_with({})
    assert keys(run, "pick") == [1, 2, 3]
    end = ActivityRun.objects.get(run=run, node_id="end")
    assert (run.status, end.status) == ("failed", "failed")
    assert end.error.startswith("end: the variable 'note' is not set by this run's trigger and has no default")
    # a variable of the wrong type fails with the settings check's words
    run = run_with({"minimum": "lots", "note": "x"})
    pick = ActivityRun.objects.get(run=run, node_id="pick")
    assert pick.status == "failed"
    assert pick.error.startswith("pick: with this run's variables, "), pick.error
    run = run_with({"minimum": 2, "note": "x"})
    assert run.status == "done"
    assert keys(run, "pick") == [2, 3]


# --- the JSON Schema -------------------------------------------------------------------------

def test_the_schema_file_lists_campaigns_own_activities_and_the_served_one_every_registered_activity():
    from apps.campaigns.activities import REGISTRY

    document = json.loads(SCHEMA_PATH.read_text())
    listed = set(document["$defs"]["node"]["properties"]["type"]["enum"])
    # the file is campaigns' part: its own activities; channels registers the channel activities
    assert listed == {t for t, a in REGISTRY.items() if type(a).__module__.startswith("apps.campaigns.")}
    assert {t for t in REGISTRY if not t.startswith("test_")} - listed == {"email", "sms", "push", "direct_mail"}
    assert definition_schema()["$defs"]["node"]["properties"]["type"]["enum"] == sorted(REGISTRY)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("definition,problem", [
    ([], {"node": "", "message": "[] is not of type 'object' (at $)."}),
    ({"edges": []}, {"node": "", "message": "'nodes' is required (at $)."}),
    ({"nodes": [{"id": "start", "type": "start", "settings": []}]},
     {"node": "start", "message": "[] is not of type 'object' (at $.nodes[0].settings)."}),
    ({"nodes": [{"id": "Start!", "type": "start"}]},
     {"node": "Start!", "message": "'Start!' is not an activity id: 1-30 lowercase letters, digits or _, starting "
                                   "with a letter (at $.nodes[0].id)."}),
    ({"nodes": [{"id": "start", "type": "start"}], "edges": [{"from": "start", "too": "x"}]},
     {"node": "edges[0]", "message": "'to' is required (at $.edges[0])."}),
    ({"nodes": [{"id": "start", "type": "start", "position": {"x": 1}}]},
     {"node": "start", "message": "'y' is required (at $.nodes[0].position)."}),
    ({"nodes": [{"id": "a", "type": "end"}] * 501},
     {"node": "", "message": "a campaign holds at most 500 activities (at $.nodes)."}),
])
def test_schema_errors_name_the_json_path(definition, problem):
    assert problem in schema_problems(definition)


def test_check_graph_reports_schema_errors_and_accepts_positions(workspace, travel):
    with pytest.raises(GraphError) as exc:
        check_graph(workspace=workspace, definition={"nodes": [{"id": "start", "type": "start", "colour": "red"}]})
    assert exc.value.problems == [{"node": "start", "message": "Additional properties are not allowed ('colour' "
                                   "was unexpected) (allowed: id, label, position, settings, type) (at $.nodes[0])."}]
    placed = {**MAILING, "nodes": [{**n, "position": {"x": 10 * i, "y": 20.5}} for i, n in enumerate(MAILING["nodes"])]}
    check_graph(workspace=workspace, definition=placed)


def test_the_api_serves_the_schema_and_refuses_a_draft_that_breaks_it(workspace, travel):
    viewer, marketer = Api(workspace, "viewer"), Api(workspace, "marketer")
    response = viewer.get("campaigns/definition-schema/")
    assert response.status_code == 200
    assert response.json()["$defs"]["node"]["required"] == ["id", "type"]
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Draft")
    response = marketer.send("PUT", f"campaigns/{campaign.pk}/draft/", {"definition": {
        "nodes": [{"id": "start", "type": "start"}], "edges": [{"from": "start", "to": 7}]}})
    assert (response.status_code, response.json()) == (400, {"problems": [
        {"node": "edges[0]", "message": "7 is not of type 'string' (at $.edges[0].to)."}]})
