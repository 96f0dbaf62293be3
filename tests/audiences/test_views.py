"""The audience screens: the rule builder (its actions on the rule's JSON, the live count
and the previews), saving, and the portal (list, audience page, rename, duplicate, delete,
evaluate, snapshots, uploads, export). alice owns the agency, bob is a viewer, mallory a
marketer; the outsider is covered by the isolation suite."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from psycopg import sql

from apps.audiences import services
from apps.audiences.models import Audience, AudienceOrigin, AudienceStatus
from apps.core.sqlutil import execute
from apps.datamodel import ddl
from apps.tenants.models import AuditEvent
from tests.factories import make_travel_model
from tests.isolation.world import database_digest

BASE = "/w/northwind/audiences/"
NEW = BASE + "new/"
HX = {"HTTP_HX_REQUEST": "true"}
NL_DE = {"attr": "country", "op": "in", "value": ["NL", "DE"]}
BIG_SPENDERS = {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt", "value": 1500}


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)


@pytest.fixture
def marketer(client_for, mallory, travel):
    return client_for(mallory)


def text(response) -> str:
    return html.unescape(response.content.decode())


def plain(response) -> str:
    """The page's text without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(response))).strip()


def definition_in(response) -> dict:
    """The rule JSON the builder holds (its hidden field)."""
    match = re.search(r'name="definition" id="definition" value="([^"]*)"', response.content.decode())
    return json.loads(html.unescape(match.group(1)))


def act(client, definition: dict, action: str = "", url: str = NEW, **inputs):
    """One builder request, as htmx sends it: the JSON, the inputs, the action."""
    data = {"definition": json.dumps(definition), "action": action, "name": "", "description": ""}
    data.update(inputs)
    return client.post(url, data, **HX)


def rule_of(*conditions, kind: str = "all", entity: str = "customer") -> dict:
    return {"entity": entity, "rule": {kind: list(conditions)}}


def node_html(response, node_id: str) -> str:
    """The markup of one node of the builder (up to the next node's start)."""
    body = text(response)
    start = body.index(f'id="{node_id}"')
    return body[start:start + 6000]


# --- the builder: actions on the JSON --------------------------------------------------------

def test_the_new_audience_page_starts_on_the_profile_entity_without_conditions(marketer):
    response = marketer.get(NEW)
    assert response.status_code == 200
    assert definition_in(response) == {"entity": "customer", "rule": None}
    assert 'hx-trigger="load, ruleChanged from:body delay:500ms"' in text(response)
    # ?entity= picks another entity
    assert definition_in(marketer.get(NEW + "?entity=booking")) == {"entity": "booking", "rule": None}


def test_adding_a_condition_makes_a_group_and_triggers_the_live_count(marketer):
    response = act(marketer, {"entity": "customer", "rule": None}, "add_condition|rule")
    assert response.status_code == 200
    assert response["HX-Trigger-After-Settle"] == "ruleChanged"
    # the first attribute that is neither the key nor a link, with the type's first operator
    assert definition_in(response) == rule_of({"attr": "email", "op": "eq"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="builder"')
    assert '<article id="preview-tools" class="preview-card" hx-swap-oob="true">' in body
    assert "<html" not in body


def test_choosing_attribute_operator_and_value_writes_them_into_the_rule(marketer):
    start = rule_of({"attr": "email", "op": "eq"})
    response = act(marketer, start, **{"rule.all[0]|field": "attr:country"})
    assert definition_in(response) == rule_of({"attr": "country", "op": "eq"})
    response = act(marketer, definition_in(response), **{"rule.all[0]|field": "attr:country",
                                                         "rule.all[0]|op": "in", "rule.all[0]|value": ""})
    assert definition_in(response) == rule_of({"attr": "country", "op": "in"})
    # a list input: commas, or one value per line
    response = act(marketer, definition_in(response), **{"rule.all[0]|field": "attr:country",
                                                         "rule.all[0]|op": "in", "rule.all[0]|value": "NL, DE"})
    assert definition_in(response) == rule_of(NL_DE)
    response = act(marketer, definition_in(response), **{"rule.all[0]|field": "attr:country",
                                                         "rule.all[0]|op": "in",
                                                         "rule.all[0]|value": "Den Haag, NL\nDE"})
    assert definition_in(response)["rule"]["all"][0]["value"] == ["Den Haag, NL", "DE"]


def test_the_value_input_fits_the_type_and_operator(marketer):
    definition = {"entity": "customer", "rule": {"all": [
        {"attr": "loyalty_tier", "op": "eq", "value": "gold"},
        {"attr": "language", "op": "in", "value": ["nl", "de"]},
        {"attr": "birth_date", "op": "between", "value": ["1980-01-01", "1989-12-31"]},
        {"attr": "created_at", "op": "in_last", "value": 3, "unit": "months"},
        {"attr": "customer_id", "op": "gte", "value": 2},
    ]}}
    response = act(marketer, definition, "refresh")
    enum = node_html(response, "n-rule-all-0")
    assert re.findall(r'<option value="([a-z]*)"', enum.split('id="n-rule-all-0-value"')[1].split("</select>")[0]) \
        == ["", "none", "silver", "gold", "platinum"]
    assert '<option value="gold" selected>' in enum
    choices = node_html(response, "n-rule-all-1")
    assert re.findall(r'name="rule.all\[1\]\|values" id="[^"]+" value="([a-z]+)"( checked)?', choices) == [
        ("en", ""), ("nl", " checked"), ("de", " checked"), ("fr", ""), ("es", ""), ("it", "")]
    between = node_html(response, "n-rule-all-2")
    assert 'type="date" name="rule.all[2]|value" id="n-rule-all-2-value" value="1980-01-01"' in between
    assert 'type="date" name="rule.all[2]|value2" id="n-rule-all-2-value2" value="1989-12-31"' in between
    relative = node_html(response, "n-rule-all-3")
    assert 'type="number" name="rule.all[3]|value" id="n-rule-all-3-value" value="3"' in relative
    assert '<option value="months" selected>months</option>' in relative
    number = node_html(response, "n-rule-all-4")
    assert 'type="number" name="rule.all[4]|value" id="n-rule-all-4-value" value="2" class="value-input" step="1"' \
        in number
    # operators are those of the type: a date has 'in the last', an integer does not
    assert '<option value="in_last"' in between and '<option value="in_last"' not in number
    # and the round trip keeps every value exactly
    posted = {"rule.all[0]|field": "attr:loyalty_tier", "rule.all[0]|op": "eq", "rule.all[0]|value": "gold",
              "rule.all[1]|field": "attr:language", "rule.all[1]|op": "in", "rule.all[1]|values": ["nl", "de"],
              "rule.all[2]|field": "attr:birth_date", "rule.all[2]|op": "between",
              "rule.all[2]|value": "1980-01-01", "rule.all[2]|value2": "1989-12-31",
              "rule.all[3]|field": "attr:created_at", "rule.all[3]|op": "in_last", "rule.all[3]|value": "3",
              "rule.all[3]|unit": "months",
              "rule.all[4]|field": "attr:customer_id", "rule.all[4]|op": "gte", "rule.all[4]|value": "2"}
    assert definition_in(act(marketer, definition, "refresh", **posted)) == definition


def test_changing_the_operator_keeps_what_still_fits(marketer):
    start = rule_of({"attr": "country", "op": "eq", "value": "NL"})
    response = act(marketer, start, **{"rule.all[0]|field": "attr:country", "rule.all[0]|op": "in",
                                      "rule.all[0]|value": "NL"})
    assert definition_in(response) == rule_of({"attr": "country", "op": "in", "value": ["NL"]})
    response = act(marketer, start, **{"rule.all[0]|field": "attr:country", "rule.all[0]|op": "is_empty",
                                      "rule.all[0]|value": "NL"})
    assert definition_in(response) == rule_of({"attr": "country", "op": "is_empty"})
    # another attribute of another type starts over with its own first operator
    response = act(marketer, start, **{"rule.all[0]|field": "attr:birth_date", "rule.all[0]|op": "eq",
                                      "rule.all[0]|value": "NL"})
    assert definition_in(response) == rule_of({"attr": "birth_date", "op": "eq"})


def test_groups_nest_move_negate_and_go_when_emptied(marketer):
    a, b = {"attr": "country", "op": "eq", "value": "NL"}, {"attr": "city", "op": "eq", "value": "Paris"}
    response = act(marketer, rule_of(a, b), "add_group|rule")
    assert definition_in(response) == rule_of(a, b, {"any": [{"attr": "email", "op": "eq"}]})
    response = act(marketer, definition_in(response), "add_condition|rule.all[2]")
    assert definition_in(response) == rule_of(a, b, {"any": [{"attr": "email", "op": "eq"},
                                                             {"attr": "email", "op": "eq"}]})
    response = act(marketer, rule_of(a, b), "down|rule.all[0]")
    assert definition_in(response) == rule_of(b, a)
    response = act(marketer, rule_of(a, b), "up|rule.all[1]")
    assert definition_in(response) == rule_of(b, a)
    response = act(marketer, rule_of(a, b), "negate|rule.all[1]")
    assert definition_in(response) == rule_of(a, {"not": b})
    response = act(marketer, definition_in(response), "negate|rule.all[1]")  # and back
    assert definition_in(response) == rule_of(a, b)
    # removing the last condition of a group removes the group; the last of all, the rule
    response = act(marketer, rule_of(a, {"any": [b]}), "remove|rule.all[1].any[0]")
    assert definition_in(response) == rule_of(a)
    response = act(marketer, rule_of(a), "remove|rule.all[0]")
    assert definition_in(response) == {"entity": "customer", "rule": None}
    # the group's kind
    response = act(marketer, rule_of(a, b), **{"rule|kind": "any"})
    assert definition_in(response) == rule_of(a, b, kind="any")


def test_related_rows_exists_aggregates_and_a_sub_rule(marketer):
    start = rule_of({"attr": "email", "op": "eq"})
    response = act(marketer, start, **{"rule.all[0]|field": "related:bookings"})
    assert definition_in(response) == rule_of({"related": "bookings", "exists": True})
    response = act(marketer, definition_in(response), **{"rule.all[0]|field": "related:bookings",
                                                         "rule.all[0]|mode": "sum"})
    # sum over the measures of booking (not its link columns), compared with >=
    assert definition_in(response) == rule_of({"related": "bookings", "agg": "sum", "attr": "amount", "op": "gte"})
    response = act(marketer, definition_in(response), "add_condition|rule.all[0].where",
                   **{"rule.all[0]|field": "related:bookings", "rule.all[0]|mode": "sum",
                      "rule.all[0]|agg_attr": "amount", "rule.all[0]|op": "gt", "rule.all[0]|value": "1500"})
    assert definition_in(response) == rule_of({"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt",
                                               "value": 1500, "where": {"all": [{"attr": "booked_at", "op": "on"}]}})
    # the sub-rule's picker offers booking's attributes and those through its links
    where = node_html(response, "n-rule-all-0-where-all-0")
    assert '<option value="attr:product.category">product › Category</option>' in where
    assert '<option value="attr:customer.country">customer › Country</option>' in where
    response = act(marketer, definition_in(response), "remove|rule.all[0].where")
    assert "where" not in definition_in(response)["rule"]["all"][0]
    response = act(marketer, rule_of({"related": "bookings", "exists": True}),
                   **{"rule.all[0]|field": "related:bookings", "rule.all[0]|mode": "none"})
    assert definition_in(response) == rule_of({"related": "bookings", "exists": False})


def test_a_condition_on_another_audience(marketer, workspace):
    gold = services.audience_create(workspace=workspace, actor=None, name="Gold", definition=rule_of(
        {"attr": "loyalty_tier", "op": "eq", "value": "gold"}))
    response = act(marketer, rule_of({"attr": "email", "op": "eq"}), **{"rule.all[0]|field": "audience"})
    assert definition_in(response) == rule_of({"in_audience": gold.pk})
    response = act(marketer, definition_in(response), **{"rule.all[0]|field": "audience",
                                                         "rule.all[0]|membership": "not_in_audience",
                                                         "rule.all[0]|audience": str(gold.pk)})
    assert definition_in(response) == rule_of({"not_in_audience": gold.pk})


def test_changing_the_entity_starts_a_new_rule_and_the_dimension_follows_links(marketer):
    response = act(marketer, rule_of(NL_DE), entity="booking")
    assert definition_in(response) == {"entity": "booking", "rule": None}
    dimension = re.search(r'<select name="dimension".*?</select>', text(response), re.S).group(0)
    assert re.findall(r'<option value="([a-z]*)"', dimension) == ["", "customer", "product"]
    response = act(marketer, {"entity": "booking", "rule": None}, entity="booking", dimension="customer")
    assert definition_in(response) == {"entity": "booking", "rule": None, "dimension": ["customer"]}


def test_a_value_picked_from_the_distribution(marketer):
    start = rule_of({"attr": "country", "op": "in", "value": ["NL"]})
    response = act(marketer, start, "set_value|rule.all[0]|FR", **{"rule.all[0]|field": "attr:country",
                                                                   "rule.all[0]|op": "in",
                                                                   "rule.all[0]|value": "NL"})
    assert definition_in(response) == rule_of({"attr": "country", "op": "in", "value": ["NL", "FR"]})


def test_a_broken_rule_json_starts_over_with_a_notice(marketer):
    response = marketer.post(NEW, {"definition": "{not json", "action": "refresh"}, **HX)
    assert response.status_code == 200
    assert definition_in(response) == {"entity": "customer", "rule": None}
    assert "The rule is not valid JSON. The builder started over." in text(response)


def test_without_javascript_an_action_returns_the_whole_page(marketer):
    response = marketer.post(NEW, {"definition": json.dumps({"entity": "customer", "rule": None}),
                                   "action": "add_condition|rule", "name": "Half typed"})
    assert response.status_code == 200
    assert "<html" in text(response)
    assert definition_in(response) == rule_of({"attr": "email", "op": "eq"})
    assert 'value="Half typed"' in text(response)  # the name is carried along...
    assert "This field is required." not in text(response)  # ...and not checked before saving


def test_an_unreadable_rule_is_never_saved(marketer, workspace):
    response = marketer.post(NEW, {"definition": "[1, 2", "action": "save", "name": "Broken"}, **HX)
    assert response.status_code == 200
    assert "The rule is not valid JSON. The builder started over." in text(response)
    assert not Audience.objects.filter(workspace=workspace).exists()


# --- problems at their node ---------------------------------------------------------------------

def test_validation_problems_are_shown_next_to_their_condition(marketer):
    definition = rule_of(NL_DE, {"attr": "birth_date", "op": "in_last"},
                         {"any": [{"attr": "customer_id", "op": "gt", "value": "many"}]})
    response = act(marketer, definition, "refresh")
    first, second = node_html(response, "n-rule-all-0"), node_html(response, "n-rule-all-1")
    assert first.split('id="n-rule-all-1"')[0].count("node-problems") == 0
    # an empty value box is not marked before the user saves: nobody has typed yet
    assert second.split('id="n-rule-all-2"')[0].count("node-problems") == 0
    assert "needs a value" not in text(response) and "Fill in a value" not in text(response)
    nested = node_html(response, "n-rule-all-2-any-0")
    assert "customer_id: &#x27;many&#x27; is not a valid integer." in nested or \
        "customer_id: 'many' is not a valid integer." in nested
    # the live count lists them with the number of their condition
    count = marketer.post(BASE + "preview/count/", {"definition": json.dumps(definition)}, **HX)
    assert count.status_code == 200
    assert plain(count) == ("The rule is not complete (2 problems): Condition 2 : Fill in a value. "
                            "Condition 3.1 : customer_id: 'many' is not a valid integer.")


def test_a_condition_waiting_for_its_value_is_a_note_not_a_problem(marketer):
    # given two conditions just added, their values not typed yet
    definition = rule_of({"attr": "country", "op": "in"}, NL_DE, {"attr": "birth_date", "op": "in_last"})
    # when the live count asks
    count = marketer.post(BASE + "preview/count/", {"definition": json.dumps(definition)}, **HX)
    # then it waits, naming them, without an alarm
    assert count.status_code == 200
    assert plain(count) == "Waiting for a value in conditions 1, 3: the count follows once it is filled in."
    assert "role=\"alert\"" not in count.content.decode() and "count-problems" not in count.content.decode()
    # and the builder marks nothing at the conditions
    response = act(marketer, definition, "refresh")
    assert "node-problems" not in text(response) and "has-problems" not in text(response)


def test_date_operators_are_offered_once_each_and_read_as_words(marketer):
    response = act(marketer, rule_of({"attr": "birth_date", "op": "before", "value": "2000-01-01"}), "refresh")
    picker = re.search(r'<select name="rule.all\[0\]\|op".*?</select>', text(response), re.S).group(0)
    labels = re.findall(r">([^<]+)</option>", picker)
    assert len(labels) == len(set(labels))
    assert "is before" in labels and "is earlier than" not in labels and "is later than" not in labels
    assert "is" not in labels  # "is on" says it for a day
    # a rule saved with the other word keeps it offered (and selected)
    response = act(marketer, rule_of({"attr": "birth_date", "op": "lt", "value": "2000-01-01"}), "refresh")
    assert '<option value="lt" selected>is earlier than</option>' in text(response)


def test_the_builder_reads_more_than_n_days_ago_once(marketer):
    response = act(marketer, rule_of({"attr": "created_at", "op": "more_than_ago", "value": 30, "unit": "days"}),
                   "refresh")
    row = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", node_html(response, "n-rule-all-0")))
    # the selected words of the row, as the marketer reads them across the boxes
    assert '<option value="more_than_ago" selected>is more than</option>' in text(response)
    assert row.count(" ago") == 1


def test_no_sentence_doubles_a_word(workspace, travel):
    from apps.audiences.rules.definition import OPERATORS
    from apps.audiences.views._display import Display
    from apps.audiences.views._sentences import Sentences
    from apps.datamodel.schema import Schema

    schema = Schema.load(workspace)
    customer = schema.entities["customer"]
    sentences = Sentences(schema)
    seen = 0
    for attribute in schema.attributes[customer.pk].values():
        for op, label in Display.operators(attribute.type):
            assert " is is " not in f" {label} "
            value = [1, 2] if op == "between" else 3
            text_ = sentences.condition({"attr": attribute.key, "op": op, "value": value, "unit": "days"}, customer)
            assert not re.search(r"\b(\w+) \1\b", text_), text_
            seen += 1
        assert {op for op, _ in Display.operators(attribute.type)} <= OPERATORS[attribute.type]
    assert seen > 20


def test_a_date_out_of_range_is_a_problem_of_its_condition_not_an_error(marketer):
    definition = rule_of(NL_DE, {"attr": "created_at", "op": "after", "value": "9999-12-31"})
    count = marketer.post(BASE + "preview/count/", {"definition": json.dumps(definition)}, **HX)
    assert count.status_code == 200
    assert plain(count) == ("The rule is not complete : Condition 2 : '9999-12-31' is out of range: "
                            "dates go from 0001-01-02 to 9999-12-30.")


# --- the live count and the previews -------------------------------------------------------------

def count_of(client, definition: dict) -> str:
    response = client.post(BASE + "preview/count/", {"definition": json.dumps(definition)}, **HX)
    assert response.status_code == 200
    match = re.search(r'id="live-count-number" data-count="(\d+)"', response.content.decode())
    return match.group(1) if match else plain(response)


def test_the_live_count_on_the_travel_data(client_for, bob, travel):
    viewer = client_for(bob)  # only reads: a viewer may count
    assert count_of(viewer, {"entity": "customer", "rule": None}) == "3"
    assert count_of(viewer, rule_of(NL_DE)) == "2"
    assert count_of(viewer, rule_of(NL_DE, BIG_SPENDERS)) == "1"
    assert count_of(viewer, rule_of(NL_DE, {"not": BIG_SPENDERS})) == "1"
    assert count_of(viewer, rule_of({"related": "bookings", "exists": False})) == "1"  # Chloe
    assert count_of(viewer, {"entity": "booking", "rule": {"attr": "product.category", "op": "eq", "value": "ski"},
                             "dimension": ["customer"]}) == "2"
    response = viewer.post(BASE + "preview/count/", {"definition": json.dumps(rule_of(NL_DE))}, **HX)
    assert re.search(r"2 customer records counted in \d+ ms", plain(response))
    assert "no-cache" in response["Cache-Control"]


def test_sample_sql_distribution_and_group_counts(client_for, bob, travel):
    viewer = client_for(bob)
    body = {"definition": json.dumps(rule_of(NL_DE, BIG_SPENDERS))}
    sample = viewer.post(BASE + "preview/sample/", body, **HX)
    rows = re.findall(r'<a href="(/w/northwind/data/entities/customer/records/\d+/)">', sample.content.decode())
    assert rows == ["/w/northwind/data/entities/customer/records/1/"]
    assert "anna@example.test" in text(sample)
    shown = viewer.post(BASE + "preview/sql/", body, **HX)
    assert re.search(r"\"country\" = ANY\('\{NL,DE\}'\) AND .*HAVING coalesce\(sum\(.*\"amount\"\), 0\) > 1500",
                     text(shown))
    everyone = {"definition": json.dumps({"entity": "customer", "rule": None}), "attribute": "loyalty_tier"}
    bars = viewer.post(BASE + "preview/distribution/", everyone, **HX)
    assert re.findall(r'<td class="dist-value">([a-z]+)</td>.*?<td class="num">(\d+)</td>', text(bars), re.S) == [
        ("gold", "1"), ("none", "1"), ("silver", "1")]
    groups = viewer.post(BASE + "preview/groups/", {**body, "path": "rule"}, **HX)
    assert re.findall(r"<tr[^>]*><td>([^<]+)</td><td class=\"num\">(\d+)</td>", text(groups)) == [
        ("Country is one of NL, DE", "2"), ("The sum of Amount of its bookings is more than 1500", "1"),
        ("The whole group", "1")]


def test_the_values_of_a_condition_are_offered_as_buttons(marketer):
    body = {"definition": json.dumps(rule_of({"attr": "product.category", "op": "eq"}, entity="booking")),
            "node": "rule.all[0]"}
    response = marketer.post(BASE + "preview/distribution/", body, **HX)
    assert re.findall(r'value="set_value\|rule.all\[0\]\|([a-z]+)"', response.content.decode()) == ["beach", "ski"]
    assert "over every product record" in text(response)


def test_previews_of_a_rule_with_problems_say_so(marketer):
    body = {"definition": json.dumps(rule_of({"attr": "nope", "op": "eq", "value": 1}))}
    for kind in ("sample", "sql", "distribution", "groups"):
        response = marketer.post(BASE + f"preview/{kind}/", {**body, "attribute": "country", "path": "rule"}, **HX)
        assert response.status_code == 200, kind
        assert "customer has no attribute &#x27;nope&#x27;." in response.content.decode(), kind


# --- saving ---------------------------------------------------------------------------------------

def test_saving_a_new_rule(marketer, workspace, mallory):
    definition = rule_of(NL_DE, BIG_SPENDERS)
    response = marketer.post(NEW, {"definition": json.dumps(definition), "action": "save",
                                   "name": "Big spenders", "description": "NL and DE"}, **HX)
    assert response.status_code == 204
    audience = Audience.objects.get(workspace=workspace)
    assert response["HX-Redirect"] == f"/w/northwind/audiences/{audience.pk}/"
    assert (audience.name, audience.description, audience.origin, audience.definition, audience.entity.key,
            audience.created_by, audience.updated_by) == (
        "Big spenders", "NL and DE", AudienceOrigin.RULE, definition, "customer", mallory, mallory)
    page = plain(marketer.get(response["HX-Redirect"]))
    assert "“Big spenders” was created." in page
    assert "Customer records where all of these: Country is one of NL, DE The sum of Amount of its bookings " \
           "is more than 1500" in page


def test_saving_refuses_a_taken_name_and_a_broken_rule_and_keeps_the_rule(marketer, workspace):
    services.audience_create(workspace=workspace, actor=None, name="Taken", definition=rule_of(NL_DE))
    before = database_digest()
    response = marketer.post(NEW, {"definition": json.dumps(rule_of(NL_DE)), "action": "save", "name": "Taken"},
                             **HX)
    assert response.status_code == 422
    assert "An audience named &#x27;Taken&#x27; already exists." in response.content.decode()
    assert '<article id="save-panel" class="save-card" hx-swap-oob="true">' in response.content.decode()
    assert definition_in(response) == rule_of(NL_DE)
    broken = rule_of({"attr": "country", "op": "in"})
    response = marketer.post(NEW, {"definition": json.dumps(broken), "action": "save", "name": "New"}, **HX)
    assert response.status_code == 422
    assert "The rule has problems: they are marked next to the conditions." in text(response)
    assert "Fill in a value." in node_html(response, "n-rule-all-0")  # the user acted: now it is marked
    assert database_digest() == before


def test_editing_a_saved_rule(marketer, workspace):
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    url = f"{BASE}{audience.pk}/edit/"
    page = marketer.get(url)
    assert page.status_code == 200
    assert definition_in(page) == rule_of(NL_DE)
    assert 'value="NL/DE"' in page.content.decode()
    response = marketer.post(url, {"definition": json.dumps(rule_of(NL_DE, BIG_SPENDERS)), "action": "save",
                                   "name": "NL/DE spenders", "description": ""}, **HX)
    assert response.status_code == 204
    audience.refresh_from_db()
    assert (audience.name, audience.definition) == ("NL/DE spenders", rule_of(NL_DE, BIG_SPENDERS))
    # the builder counted it live: the saved audience keeps a count, not "Not counted yet"
    assert audience.size == 1 and audience.last_evaluated_at is not None
    page = marketer.get(f"{BASE}{audience.pk}/")
    assert 'id="audience-size" data-count="1"' in page.content.decode()
    assert "Not counted yet" not in page.content.decode()
    # a rule may not refer to itself
    response = marketer.post(url, {"definition": json.dumps(rule_of({"in_audience": audience.pk})),
                                   "action": "save", "name": "Loop"}, **HX)
    assert response.status_code == 422
    assert "refers back to itself" in text(response)


def test_a_list_has_no_rule_to_edit(marketer, workspace, travel):
    upload = services.upload_create(workspace=workspace, actor=None, name="Keys", entity=travel["customer"],
                                    stream=io.BytesIO(b"customer_id\n1\n"))
    response = marketer.get(f"{BASE}{upload.pk}/edit/")
    assert response.status_code == 302
    assert response.url == f"/w/northwind/audiences/{upload.pk}/"


# --- the portal -------------------------------------------------------------------------------------

def test_rename_duplicate_and_delete(marketer, workspace):
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    response = marketer.post(f"{BASE}{audience.pk}/rename/", {"name": "Benelux+", "description": "d"}, **HX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "audienceChanged"
    assert '<h1 id="audience-name">Benelux+</h1>' in response.content.decode()
    audience.refresh_from_db()
    assert (audience.name, audience.description) == ("Benelux+", "d")

    response = marketer.post(f"{BASE}{audience.pk}/duplicate/")
    copy = Audience.objects.get(workspace=workspace, name="Benelux+ (copy)")
    assert response.status_code == 302 and response.url == f"/w/northwind/audiences/{copy.pk}/"
    assert copy.definition == audience.definition

    response = marketer.post(f"{BASE}{copy.pk}/delete/", **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/w/northwind/audiences/"
    assert not Audience.objects.filter(pk=copy.pk).exists()


def test_deleting_an_audience_another_one_uses_is_refused(marketer, workspace):
    gold = services.audience_create(workspace=workspace, actor=None, name="Gold", definition=rule_of(
        {"attr": "loyalty_tier", "op": "eq", "value": "gold"}))
    services.audience_create(workspace=workspace, actor=None, name="Gold NL", definition=rule_of(
        {"in_audience": gold.pk}, NL_DE))
    before = database_digest()
    response = marketer.post(f"{BASE}{gold.pk}/delete/", **HX)
    assert response.status_code == 422
    assert plain(response).startswith("Delete this audience 'Gold' cannot be deleted: it is used by the audience "
                                      "'Gold NL'.")
    assert database_digest() == before
    assert "the audience &#x27;Gold NL&#x27;" in marketer.get(f"{BASE}{gold.pk}/").content.decode()


def test_rename_to_a_taken_name_is_refused(marketer, workspace):
    audience = services.audience_create(workspace=workspace, actor=None, name="A", definition=rule_of(NL_DE))
    services.audience_create(workspace=workspace, actor=None, name="B", definition=rule_of(NL_DE))
    response = marketer.post(f"{BASE}{audience.pk}/rename/", {"name": "B", "description": ""}, **HX)
    assert response.status_code == 422
    assert "An audience named &#x27;B&#x27; already exists." in response.content.decode()
    audience.refresh_from_db()
    assert audience.name == "A"


def test_evaluate_now_stores_the_size(client_for, bob, workspace, travel):
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    response = client_for(bob).post(f"{BASE}{audience.pk}/evaluate/", **HX)
    assert response.status_code == 200
    assert re.search(r'<span id="audience-size" data-count="2">2</span>', response.content.decode())
    audience.refresh_from_db()
    assert audience.size == 2 and audience.last_evaluated_at is not None


def test_a_snapshot_shows_its_progress_then_its_size(marketer, workspace):
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    response = marketer.post(f"{BASE}{audience.pk}/snapshot/", {"name": "NL/DE frozen"})
    snapshot = Audience.objects.get(workspace=workspace, name="NL/DE frozen")
    assert response.status_code == 302 and response.url == f"/w/northwind/audiences/{snapshot.pk}/"
    assert (snapshot.origin, snapshot.status, snapshot.source_audience) == (
        AudienceOrigin.SNAPSHOT, AudienceStatus.BUILDING, audience)
    page = marketer.get(response.url).content.decode()
    assert f'hx-get="/w/northwind/audiences/{snapshot.pk}/status/" hx-trigger="every 1s"' in page
    assert 'class="progress is-indeterminate" role="progressbar"' in page
    assert 'id="export-form"' not in page  # nothing to export yet

    services.snapshot_build(audience_id=snapshot.pk)  # what the worker does

    status = marketer.get(f"{BASE}{snapshot.pk}/status/", **HX).content.decode()
    assert 'hx-trigger="every 1s"' not in status  # polling stops
    assert '<span id="audience-size" data-count="2">2</span>' in status
    assert '<div id="audience-tools" hx-swap-oob="true">' in status  # the tools appear with it
    page = marketer.get(f"{BASE}{snapshot.pk}/")
    assert '<span id="audience-size" data-count="2">2</span>' in page.content.decode()
    assert "A frozen list of the customer records matched on" in plain(page)


def test_a_snapshot_that_is_not_built_cannot_be_duplicated(marketer, workspace):
    snapshot = services.snapshot_create(workspace=workspace, actor=None, name="Frozen", definition=rule_of(NL_DE),
                                        enqueue=False)
    before = database_digest()
    response = marketer.post(f"{BASE}{snapshot.pk}/duplicate/")
    assert response.status_code == 302 and response.url == f"/w/northwind/audiences/{snapshot.pk}/"
    assert "only a ready audience can be duplicated" in text(marketer.get(response.url))
    assert database_digest() == before


def test_upload_a_list_and_read_its_report(marketer, workspace, mallory):
    keys = SimpleUploadedFile("keys.csv", b"customer_id\n1\n2\n99\nabc\n1\n3\n", content_type="text/csv")
    response = marketer.post(BASE + "upload/", {"name": "Uploaded", "entity": "customer", "file": keys,
                                                "column": "", "delimiter": ",", "encoding": "utf-8"})
    audience = Audience.objects.get(workspace=workspace, name="Uploaded")
    assert response.status_code == 302 and response.url == f"/w/northwind/audiences/{audience.pk}/"
    assert (audience.origin, audience.size, audience.created_by) == (AudienceOrigin.UPLOAD, 3, mallory)
    page = marketer.get(response.url)
    counts = dict(re.findall(r'<dd data-count="(\w+)">(\d+)</dd>', page.content.decode()))
    assert counts == {"uploaded": "6", "matched": "3", "unmatched": "2", "invalid": "1", "duplicates": "1"}
    unmatched = re.search(r'<table[^>]*id="unmatched-keys".*?</table>', page.content.decode(), re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td><td><code>([^<]+)</code>', unmatched) == [("4", "99"),
                                                                                             ("5", "abc")]
    assert "“Uploaded” holds 3 of the 6 keys uploaded." in text(page)


def test_an_upload_without_a_usable_column_keeps_the_form(marketer, workspace):
    keys = SimpleUploadedFile("keys.csv", b"id,name\n1,a\n", content_type="text/csv")
    before = database_digest()
    response = marketer.post(BASE + "upload/", {"name": "Uploaded", "entity": "customer", "file": keys,
                                                "column": "", "delimiter": ",", "encoding": "utf-8"})
    assert response.status_code == 200
    assert "Name the column holding customer keys; the file has: id, name." in text(response)
    assert database_digest() == before


def test_export_streams_the_chosen_columns_with_formulas_defused(marketer, workspace, travel):
    execute(sql.SQL("UPDATE {} SET first_name = %s WHERE customer_id = 1").format(ddl.table(travel["customer"])),
            ["=HYPERLINK(\"http://x\")"])
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    response = marketer.post(f"{BASE}{audience.pk}/export/", {"attributes": ["customer_id", "first_name",
                                                                             "country"]})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="nlde.csv"'
    assert b"".join(response.streaming_content).decode() == (
        'customer_id,first_name,country\n1,"\'=HYPERLINK(""http://x"")",NL\n2,Ben,DE\n')
    event = AuditEvent.objects.get(workspace=workspace, verb="audience.exported")
    assert event.data == {"attributes": ["customer_id", "first_name", "country"]}


# --- roles ------------------------------------------------------------------------------------------

def test_a_viewer_reads_but_cannot_write(client_for, bob, workspace, travel):
    audience = services.audience_create(workspace=workspace, actor=None, name="NL/DE", definition=rule_of(NL_DE))
    viewer = client_for(bob)
    page = viewer.get(f"{BASE}{audience.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    for control in ('id="edit-rule"', 'id="duplicate-form"', 'id="rename-form"', 'id="delete-form"',
                    'id="snapshot-form"', 'id="export-form"'):
        assert control not in body, control
    assert 'id="evaluate-form"' in body and 'id="show-sample"' in body
    assert "New audience" not in viewer.get(BASE).content.decode()
    before = database_digest()
    writes = [
        (NEW, {"definition": json.dumps(rule_of(NL_DE)), "action": "save", "name": "Mine"}),
        (f"{BASE}{audience.pk}/edit/", {"definition": json.dumps(rule_of(NL_DE)), "action": "save", "name": "X"}),
        (f"{BASE}{audience.pk}/rename/", {"name": "Renamed"}),
        (f"{BASE}{audience.pk}/duplicate/", {}),
        (f"{BASE}{audience.pk}/delete/", {}),
        (f"{BASE}{audience.pk}/snapshot/", {"name": "Snap"}),
        (f"{BASE}{audience.pk}/export/", {"attributes": ["customer_id"]}),
        (BASE + "upload/", {"name": "L", "entity": "customer",
                            "file": SimpleUploadedFile("k.csv", b"customer_id\n1\n")}),
    ]
    for url, data in writes:
        assert viewer.post(url, data).status_code == 403, url
    assert viewer.get(NEW).status_code == 403
    assert database_digest() == before


# --- the list ---------------------------------------------------------------------------------------

def test_the_list_shows_origin_size_evaluation_and_who_changed_it(marketer, workspace, travel, mallory):
    rule = services.audience_create(workspace=workspace, actor=mallory, name="B rule", definition=rule_of(NL_DE))
    services.upload_create(workspace=workspace, actor=None, name="A list", entity=travel["customer"],
                           stream=io.BytesIO(b"customer_id\n1\n2\n"))
    services.audience_create(workspace=workspace, actor=None, name="C bookings",
                             definition={"entity": "booking", "rule": None})
    page = marketer.get(BASE)
    rows = re.findall(r'<tr id="audience-(\d+)">(.*?)</tr>', page.content.decode(), re.S)
    cells = [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                            row, re.S)]
             for _, row in rows]
    assert [c[:4] for c in cells] == [["A list", "Customer", "Uploaded list", "2"],
                                      ["B rule", "Customer", "Rule", "—"],
                                      ["C bookings", "Booking", "Rule", "—"]]
    assert cells[1][4] == "never" and cells[1][5].endswith("mallory@example.test")
    filtered = marketer.get(BASE, {"entity": "customer", "origin": "rule"}, HTTP_HX_REQUEST="true",
                            HTTP_HX_TARGET="audience-list")
    assert re.findall(r'<tr id="audience-(\d+)">', filtered.content.decode()) == [str(rule.pk)]
    assert filtered.content.decode().lstrip().startswith('<section id="audience-list"')


# session, user, workspace + membership + permissions, entities (filter), count, the page
# (audiences with entity and users joined), the workspace switcher (2), the savepoint pair
LIST_QUERIES = 12


def test_the_list_costs_a_fixed_number_of_queries(client_for, bob, workspace, travel, django_assert_num_queries):
    viewer = client_for(bob)
    for i in range(3):
        services.audience_create(workspace=workspace, actor=None, name=f"A{i}", definition=rule_of(NL_DE))
    viewer.get(BASE)  # warm up (content types, permissions caches)
    with django_assert_num_queries(LIST_QUERIES):
        assert viewer.get(BASE).status_code == 200
    for i in range(3, 30):
        services.audience_create(workspace=workspace, actor=None, name=f"A{i}", definition=rule_of(NL_DE))
    with django_assert_num_queries(LIST_QUERIES):
        assert viewer.get(BASE).status_code == 200
