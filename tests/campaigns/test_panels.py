"""The canvas side panels a marketer fills in instead of JSON: what is saved is what was
chosen, a bad choice is a precise error that saves nothing, a panel keeps the settings it
does not show, the rule builders redraw without saving, and roles hold (viewer 403,
outsider 404, nothing changed)."""

import json
import re

import pytest

from apps.campaigns import services
from tests.campaigns.test_views import HX, definition, url

pytestmark = pytest.mark.django_db


def e(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


DRAFT = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                   {"id": "nl", "type": "build_audience", "settings": {"definition": {
                       "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}},
                       "note": "kept"}},
                   {"id": "pick", "type": "split", "settings": {"subsets": [{"name": "gold"}]}},
                   {"id": "dedup", "type": "deduplicate", "settings": {"fields": ["email"]}},
                   {"id": "pause", "type": "wait", "settings": {"amount": 2, "unit": "hours"}},
                   {"id": "keep", "type": "save_audience", "settings": {"name": "Kept"}},
                   {"id": "end", "type": "end", "settings": {}}],
         "edges": [e("start", "nl"), e("nl", "pick"), e("pick", "dedup", "gold"), e("dedup", "pause"),
                   e("pause", "keep"), e("keep", "end")]}


@pytest.fixture
def campaign(workspace, travel):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Spring")
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=DRAFT)
    return campaign


def node(campaign, node_id):
    return next(n for n in definition(campaign)["nodes"] if n["id"] == node_id)


def post(client, campaign, action, node_id, **data):
    return client.post(url("camp-edit", campaign.workspace, pk=campaign.pk), {
        "action": action, "definition": json.dumps(definition(campaign)), "node": node_id,
        "cfg-node_id": node_id, "cfg-label": "", "cfg-on_empty": "continue", **data}, **HX)


def rule(text, prefix):
    return json.loads(re.search(rf'name="{prefix}definition" id="{prefix}definition" value="([^"]*)"',
                                text).group(1).replace("&quot;", '"'))


def test_build_audience_draws_the_builder_with_its_live_count(workspace, mallory, client_for, campaign):
    page = client_for(mallory).get(url("camp-detail", workspace, pk=campaign.pk) + "?node=nl").content.decode()
    assert rule(page, "rb-") == {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}
    assert 'name="rb-rule|field"' in page and 'value="rb-add_group|rule"' in page
    assert 'id="panel-count"' in page and '"rule_field": "rb-definition"' in page
    assert "cfg-definition" not in page and "json-input" not in page.split('id="json-view"')[0]
    # the live count the panel asks for
    count = client_for(mallory).post(url("aud-count", workspace), {
        "rule_field": "rb-definition", "definition": json.dumps(definition(campaign)),
        "rb-definition": json.dumps(rule(page, "rb-"))}).content.decode()
    assert 'data-count="1"' in count


def test_the_builder_redraws_without_saving_then_saves_what_was_built(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    before = definition(campaign)
    built = {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}
    # + Condition turns the single condition into a group of two; nothing is saved
    response = post(client, campaign, "rb-add_condition|rule", "nl", **{"rb-definition": json.dumps(built),
                                                                        "rb-rule|field": "attr:country", "rb-rule|op": "eq", "rb-rule|value": "DE"})
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    drawn = rule(response.content.decode(), "rb-")
    assert drawn["rule"]["all"][0] == {"attr": "country", "op": "eq", "value": "DE"}
    assert len(drawn["rule"]["all"]) == 2
    assert definition(campaign) == before
    # another attribute picked for the second condition (a change: redrawn, not saved)
    response = post(client, campaign, "panel", "nl", **{
        "rb-definition": json.dumps(drawn), "rb-rule.all[1]|field": "attr:loyalty_tier"})
    drawn = rule(response.content.decode(), "rb-")
    assert drawn["rule"]["all"][1] == {"attr": "loyalty_tier", "op": "eq"}
    assert definition(campaign) == before
    # save what the builder holds, the value chosen in the second condition included
    response = post(client, campaign, "configure", "nl", **{
        "rb-definition": json.dumps(drawn), "rb-rule.all[1]|field": "attr:loyalty_tier", "rb-rule.all[1]|op": "eq",
        "rb-rule.all[1]|value": "gold", "cfg-on_empty": "stop"})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert node(campaign, "nl")["settings"] == {
        "definition": {"entity": "customer", "rule": {"all": [{"attr": "country", "op": "eq", "value": "DE"},
                                                             {"attr": "loyalty_tier", "op": "eq", "value": "gold"}]}},
        "note": "kept", "on_empty": "stop"}


def test_build_audience_takes_a_saved_audience_instead(workspace, mallory, client_for, campaign):
    from apps.audiences import services as audience_services

    dutch = audience_services.audience_create(workspace=workspace, actor=None, name="Dutch", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    response = post(client_for(mallory), campaign, "configure", "nl", **{
        "cfg-audience": str(dutch.pk), "rb-definition": json.dumps({"entity": "customer", "rule": None})})
    assert response.status_code == 200
    assert node(campaign, "nl")["settings"] == {"audience": dutch.pk, "note": "kept"}


def test_a_rule_with_problems_is_a_precise_error_and_nothing_is_saved(workspace, mallory, client_for, campaign):
    before = definition(campaign)
    response = post(client_for(mallory), campaign, "configure", "nl", **{
        "rb-definition": json.dumps({"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}),
        "rb-rule|field": "attr:country", "rb-rule|op": "between", "rb-rule|value": "A"})
    assert response.status_code == 422
    assert "The rule has problems: a value is missing." in response.content.decode()
    assert definition(campaign) == before


def test_split_subsets_round_trip_rule_percent_top_and_limit_per_group(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=pick").content.decode()
    assert rule(page, "rule0-") == {"entity": "customer", "rule": None}  # the split's input: customers
    assert 'name="rule1-definition"' in page and '<option value="loyalty_tier">' in page
    response = post(client, campaign, "configure", "pick", **{
        "subset_rows": "3",
        "cfg-s0_name": "gold", "rule0-definition": json.dumps({"entity": "customer", "rule": {
            "attr": "loyalty_tier", "op": "eq", "value": "gold"}}), "cfg-s0_limit": "5",
        "cfg-s1_name": "newest", "rule1-definition": json.dumps({"entity": "customer", "rule": None}),
        "cfg-s1_top_attr": "created_at", "cfg-s1_top_dir": "desc", "cfg-s1_top_n": "2",
        "cfg-s1_group_attr": "country", "cfg-s1_group_limit": "1", "cfg-s1_percent": "50",
        "cfg-s2_name": "", "cfg-complement": "on"})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert node(campaign, "pick")["settings"] == {"subsets": [
        {"name": "gold", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}, "limit": 5},
        {"name": "newest", "percent": 50.0, "top": {"attr": "created_at", "desc": True, "n": 2},
         "per_group": {"attr": "country", "limit": 1}}], "complement": True, "overlapping": False}


@pytest.mark.parametrize("data, message", [
    ({"cfg-s0_top_attr": "created_at"}, "Subset gold: how many of the top rows to take (N)."),
    ({"cfg-s0_top_n": "3"}, "Subset gold: the attribute to take the top 3 by."),
    ({"cfg-s0_group_attr": "country"}, "Subset gold: a limit per group needs both the attribute and the number."),
    ({"cfg-s0_top_attr": "shoe_size", "cfg-s0_top_n": "3"}, "Select a valid choice. shoe_size is not one of"),
    ({"cfg-s0_percent": "101"}, "Ensure this value is less than or equal to 100."),
])
def test_a_split_subset_that_cannot_be_done_is_a_precise_error(workspace, mallory, client_for, campaign, data,
                                                                 message):
    before = definition(campaign)
    response = post(client_for(mallory), campaign, "configure", "pick", **{"cfg-s0_name": "gold", **data})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert definition(campaign) == before


def test_deduplicate_picks_attributes_of_its_input(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=dedup").content.decode()
    assert 'type="checkbox" name="cfg-fields_" value="email"' in page and 'checked' in page
    response = post(client, campaign, "configure", "dedup", **{"cfg-fields_": ["email", "phone"],
                                                               "cfg-keep_first_by": "created_at",
                                                               "cfg-direction": "desc"})
    assert response.status_code == 200
    assert node(campaign, "dedup")["settings"] == {"fields": ["email", "phone"], "keep_first_by": "-created_at"}
    before = definition(campaign)
    response = post(client, campaign, "configure", "dedup", **{"cfg-fields_": ["email; DROP TABLE x"]})
    assert response.status_code == 422
    assert "Select a valid choice. email; DROP TABLE x is not one of the available choices." in \
        response.content.decode()
    assert definition(campaign) == before


@pytest.mark.parametrize("data, settings", [
    ({"cfg-kind": "duration", "cfg-amount": "3", "cfg-unit": "days"}, {"amount": 3, "unit": "days"}),
    ({"cfg-kind": "time", "cfg-time": "09:30"}, {"until": "09:30"}),
    ({"cfg-kind": "moment", "cfg-moment": "2027-01-02T08:00"}, {"until": "2027-01-02T08:00"}),
])
def test_wait_round_trips_each_kind(workspace, mallory, client_for, campaign, data, settings):
    response = post(client_for(mallory), campaign, "configure", "pause", **data)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert node(campaign, "pause")["settings"] == settings
    page = client_for(mallory).get(url("camp-detail", workspace, pk=campaign.pk) + "?node=pause").content.decode()
    assert f'<option value="{data["cfg-kind"]}" selected>' in page


@pytest.mark.parametrize("data, message", [
    ({"cfg-kind": "duration"}, "How long to wait: a whole number."),
    ({"cfg-kind": "duration", "cfg-amount": "400", "cfg-unit": "days"}, "A wait is at most a year."),
    ({"cfg-kind": "time", "cfg-time": "25:00"}, "Enter a valid time."),
    ({"cfg-kind": "moment"}, "The date and time to wait for."),
])
def test_a_wait_that_cannot_be_done_is_a_precise_error(workspace, mallory, client_for, campaign, data, message):
    before = definition(campaign)
    response = post(client_for(mallory), campaign, "configure", "pause", **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert definition(campaign) == before


def test_save_audience_round_trips_and_needs_a_name(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    response = post(client, campaign, "configure", "keep", **{"cfg-name": " Buyers ", "cfg-mode": "append"})
    assert response.status_code == 200
    assert node(campaign, "keep")["settings"] == {"name": "Buyers", "mode": "append"}
    before = definition(campaign)
    response = post(client, campaign, "configure", "keep", **{"cfg-name": "", "cfg-mode": "append"})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert definition(campaign) == before


def test_a_viewer_cannot_redraw_or_save_a_panel_and_an_outsider_gets_404(workspace, bob, charlie, client_for,
                                                                         campaign):
    before = definition(campaign)
    for user, status in ((bob, 403), (charlie, 404)):
        for action in ("rb-add_condition|rule", "panel", "configure"):
            response = post(client_for(user), campaign, action, "nl", **{
                "rb-definition": json.dumps({"entity": "customer", "rule": None})})
            assert response.status_code == status, (user, action)
    assert definition(campaign) == before


ENRICH = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                    {"id": "nl", "type": "build_audience", "settings": {"definition": {"entity": "customer",
                                                                                       "rule": None}}},
                    {"id": "enrich", "type": "enrichment", "settings": {"aggregates": [
                        {"name": "spent", "related": "bookings", "agg": "sum", "attr": "amount",
                         "where": {"attr": "status", "op": "eq", "value": "confirmed"}}]}},
                    {"id": "end", "type": "end", "settings": {}}],
          "edges": [e("start", "nl"), e("nl", "enrich"), e("enrich", "end")]}


def test_enrichment_picks_columns_from_the_data_model_and_keeps_a_rows_filter(workspace, mallory, client_for,
                                                                              campaign):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=ENRICH)
    client = client_for(mallory)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=enrich").content.decode()
    assert '<option value="country">' in page and '<option value="bookings">' in page
    assert 'name="cfg-aggregates0_name"' in page and 'value="spent"' in page
    response = post(client, campaign, "configure", "enrich", **{
        "attributes_rows": "1", "aggregates_rows": "2", "related_rows": "2",
        "cfg-attributes0_name": "home", "cfg-attributes0_path": "country",
        "cfg-aggregates0_name": "spent", "cfg-aggregates0_related": "bookings", "cfg-aggregates0_agg": "max",
        "cfg-aggregates0_attr": "amount",
        "cfg-aggregates1_name": "trips", "cfg-aggregates1_related": "bookings", "cfg-aggregates1_agg": "count",
        "cfg-related0_name": "next_trip", "cfg-related0_kind": "first", "cfg-related0_related": "bookings",
        "cfg-related0_order_by": "start_date", "cfg-related0_columns": ["booking_id", "start_date"],
        "cfg-related1_name": "trips_list", "cfg-related1_kind": "list", "cfg-related1_related": "bookings",
        "cfg-related1_order_by": "start_date", "cfg-related1_descending": "on", "cfg-related1_limit": "3",
        "cfg-related1_columns": ["booking_id"]})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert node(campaign, "enrich")["settings"] == {
        "attributes": [{"name": "home", "path": "country"}],
        "aggregates": [{"where": {"attr": "status", "op": "eq", "value": "confirmed"}, "name": "spent",
                        "related": "bookings", "agg": "max", "attr": "amount"},
                       {"name": "trips", "related": "bookings", "agg": "count"}],
        "first": [{"name": "next_trip", "related": "bookings", "order_by": "start_date", "descending": False,
                   "attributes": ["booking_id", "start_date"]}],
        "lists": [{"name": "trips_list", "related": "bookings", "order_by": "start_date", "descending": True,
                   "attributes": ["booking_id"], "limit": 3}]}


@pytest.mark.parametrize("data, message", [
    ({"cfg-aggregates0_name": "spent", "cfg-aggregates0_related": "bookings", "cfg-aggregates0_agg": "sum",
      "cfg-aggregates0_attr": ""}, "spent: booking has no attribute &#x27;&#x27;."),
    ({"cfg-aggregates0_name": "Spent!", "cfg-aggregates0_related": "bookings", "cfg-aggregates0_agg": "count"},
     "a column name is lowercase letters, digits and _"),
    ({"cfg-aggregates0_name": "x", "cfg-aggregates0_related": "nope"}, "Select a valid choice. nope is not one of"),
])
def test_an_enrichment_that_cannot_be_done_is_a_precise_error(workspace, mallory, client_for, campaign, data,
                                                                message):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=ENRICH)
    before = definition(campaign)
    response = post(client_for(mallory), campaign, "configure", "enrich", **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert definition(campaign) == before
