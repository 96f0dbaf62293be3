"""The rule language's edges (issue #11): case folding beyond ASCII, text taken exactly as
written with '' as the empty value, saved audiences compiled once per query, and values
out of the range the compiler and PostgreSQL can handle refused with their path."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.db import connection

from apps.audiences import selectors, services
from apps.audiences.models import Audience
from apps.audiences.rules import definition as rules_schema
from apps.audiences.rules.compiler import compile_definition
from apps.audiences.rules.definition import check_definition
from tests.audiences.test_api import Api
from tests.audiences.test_operators import NOW, keys, make_things, problems


@pytest.fixture
def things(workspace):
    return make_things(workspace)


# --- 1. case-insensitive operators fold both sides the same way, in SQL ----------------------

FOLDING_ROWS = """id,t
1,İstanbul
2,ΠΑΠΑΔΟΠΟΥΛΟΣ
3,istanbul
4,παπαδοπουλος
5,Ankara İSTANBUL
6,Straße
7,
""".encode()


@pytest.fixture
def folding(workspace):
    return make_things(workspace, FOLDING_ROWS, attributes=[{"key": "t", "type": "text"}])


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("ieq", "İstanbul", [1, 3]),
    ("ieq", "istanbul", [1, 3]),
    ("ieq", "İSTANBUL", [1, 3]),
    ("ieq", "ΠΑΠΑΔΟΠΟΥΛΟΣ", [2, 4]),
    ("ieq", "Παπαδοπουλος", [2, 4]),
    ("ieq", "STRASSE", []),
    ("ieq", "straße", [6]),
    ("iends_with", "İSTANBUL", [1, 3, 5]),
    ("iends_with", "ΛΟΣ", [2, 4]),
    ("icontains", "STANBUL", [1, 3, 5]),
    ("icontains", "ara İs", [5]),
    ("icontains", "ΔΟΠΟΥΛΟΣ", [2, 4]),
    ("istarts_with", "İST", [1, 3]),
    ("istarts_with", "ΠΑΠΑ", [2, 4]),
])
def test_case_insensitive_operators_match_rows_holding_exactly_the_value(workspace, folding, op, value, expected):
    assert keys(workspace, {"attr": "t", "op": op, "value": value}) == expected


def test_every_case_insensitive_operator_matches_each_value_itself(workspace, folding):
    # whatever the text, a row holding exactly the value matches its own i-operators
    values = {1: "İstanbul", 2: "ΠΑΠΑΔΟΠΟΥΛΟΣ", 3: "istanbul", 4: "παπαδοπουλος", 5: "Ankara İSTANBUL", 6: "Straße"}
    for key, value in values.items():
        for op in ("ieq", "icontains", "istarts_with", "iends_with"):
            assert key in keys(workspace, {"attr": "t", "op": op, "value": value}), (op, value)


# --- 2. text is never trimmed; '' is the empty value everywhere ------------------------------

SPACE_ROWS = b'id,t,n\n1," NL",red\n2,NL,green\n3,"NL ",red\n4,,\n5,nl,blue\n6,"",\n'


@pytest.fixture
def spaced(workspace):
    return make_things(workspace, SPACE_ROWS, attributes=[
        {"key": "t", "type": "text"}, {"key": "n", "type": "enum", "enum_values": ["red", "green", "blue"]}])


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("eq", "NL", [2]),
    ("eq", " NL", [1]),
    ("eq", "NL ", [3]),
    ("ne", "NL", [1, 3, 5]),
    ("ne", " NL", [2, 3, 5]),
    ("in", [" NL", "NL "], [1, 3]),
    ("not_in", ["NL"], [1, 3, 5]),
    ("not_in", [" NL", "nl"], [2, 3]),
    ("contains", " ", [1, 3]),
    ("starts_with", " N", [1]),
    ("ends_with", "L ", [3]),
    ("ieq", " nl", [1]),
    # '' is the empty value: the same as is_empty / is_not_empty
    ("eq", "", [4, 6]),
    ("ne", "", [1, 2, 3, 5]),
    ("in", ["", "nl"], [4, 5, 6]),
    ("in", [""], [4, 6]),
    ("not_in", ["", "NL"], [1, 3, 5]),
    ("not_in", [""], [1, 2, 3, 5]),
    ("is_empty", None, [4, 6]),
    ("is_not_empty", None, [1, 2, 3, 5]),
])
def test_text_values_are_taken_exactly_as_written(workspace, spaced, op, value, expected):
    node = {"attr": "t", "op": op} | ({"value": value} if value is not None else {})
    assert keys(workspace, node) == expected


def test_empty_enum_value_is_the_empty_value_and_spaces_are_not_trimmed(workspace, spaced):
    assert keys(workspace, {"attr": "n", "op": "eq", "value": ""}) == [4, 6]
    assert keys(workspace, {"attr": "n", "op": "ne", "value": ""}) == [1, 2, 3, 5]
    assert keys(workspace, {"attr": "n", "op": "in", "value": ["", "green"]}) == [2, 4, 6]
    assert problems(workspace, {"entity": "thing", "rule": {"attr": "n", "op": "eq", "value": " red"}}) == [
        {"path": "rule.value", "message": "' red' is not one of n's values (red, green, blue)."}]


@pytest.mark.parametrize(("op", "value", "message"), [
    ("lt", "", "'' is the empty value and has no order; use is_empty or is_not_empty."),
    ("between", ["", "m"], "'' is the empty value and has no order; use is_empty or is_not_empty."),
    ("contains", "", "needs non-empty text."),
    ("ieq", "", "needs non-empty text."),
])
def test_empty_text_where_it_has_no_meaning_is_a_problem(workspace, spaced, op, value, message):
    assert problems(workspace, {"entity": "thing", "rule": {"attr": "t", "op": op, "value": value}}) == [
        {"path": "rule.value", "message": message}]


# --- 3. saved audiences compiled once per query, with a bounded size --------------------------

def _chain(workspace, levels: int) -> list[Audience]:
    make_things(workspace)
    chain = [services.audience_create(workspace=workspace, actor=None, name="level 0", definition={
        "entity": "thing", "rule": {"attr": "i", "op": "gte", "value": 0}})]
    for level in range(1, levels + 1):
        previous = chain[-1].pk
        chain.append(services.audience_create(workspace=workspace, actor=None, name=f"level {level}", definition={
            "entity": "thing", "rule": {"any": [{"in_audience": previous}, {"all": [
                {"in_audience": previous}, {"attr": "t", "op": "is_not_empty"}]}]}}))
    return chain


def test_saved_audiences_that_refer_to_each_other_compile_once_each(workspace):
    # given ten levels of saved audiences, each referring to the previous one twice
    chain = _chain(workspace, 10)
    top = {"entity": "thing", "rule": {"in_audience": chain[-1].pk}}
    # when
    started = time.perf_counter()
    checked = check_definition(workspace=workspace, definition=top)
    query = compile_definition(checked, now=NOW, shape="count")
    elapsed = time.perf_counter() - started
    # then
    assert elapsed < 1.0
    for audience in chain:
        assert len(re.findall(rf'"audience_{audience.pk}" \(key\) AS', query.sql)) == 1
    assert len(query.sql) < 5_000
    assert selectors.count(definition=checked, now=NOW).count == 3  # i >= 0: rows 1, 3, 5
    assert keys(workspace, {"not_in_audience": chain[-1].pk}) == [2, 4]


def test_a_saved_audience_used_by_sample_and_distribution_and_sql(workspace):
    chain = _chain(workspace, 2)
    checked = check_definition(workspace=workspace, definition={
        "entity": "thing", "rule": {"in_audience": chain[-1].pk}})
    assert [row["id"] for row in selectors.sample(definition=checked, now=NOW)] == [1, 3, 5]
    assert selectors.distribution(definition=checked, attribute="n", now=NOW) == [
        {"value": "red", "count": 2}, {"value": "blue", "count": 1}]
    text = selectors.explain_sql(definition=checked, now=NOW)
    assert text.startswith("WITH ")
    with connection.cursor() as cursor:
        cursor.execute(text)
        assert sorted(r[0] for r in cursor.fetchall()) == [1, 3, 5]


def test_a_rule_and_the_audiences_it_uses_hold_a_bounded_number_of_conditions(workspace, monkeypatch):
    chain = _chain(workspace, 3)  # 1 (here) + 5 + 5 + 5 + 1 (level 0) conditions, each audience once
    monkeypatch.setattr(rules_schema, "MAX_TOTAL_NODES", 16)
    assert problems(workspace, {"entity": "thing", "rule": {"in_audience": chain[-1].pk}}) == [
        {"path": "rule", "message": "audience 'level 3' cannot be used: "
                                    "with the saved audiences it uses, a rule holds at most 16 conditions."}]
    monkeypatch.setattr(rules_schema, "MAX_TOTAL_NODES", 17)
    assert check_definition(workspace=workspace, definition={
        "entity": "thing", "rule": {"in_audience": chain[-1].pk}}).rule is not None


# --- 4. values beyond what the compiler and PostgreSQL handle are problems, not 500s -----------

@pytest.mark.parametrize(("node", "message"), [
    ({"attr": "at", "op": "on", "value": "9999-12-31"}, "'9999-12-31' is out of range: dates go from 0001-01-02 to "
                                                        "9999-12-30."),
    ({"attr": "at", "op": "after", "value": "9999-12-31T10:00:00"},
     "'9999-12-31T10:00:00' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "at", "op": "before", "value": "0001-01-01"},
     "'0001-01-01' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "day", "op": "on", "value": "9999-12-31"},
     "'9999-12-31' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "at", "op": "eq", "value": "9999-12-31T23:00:00-05:00"},
     "'9999-12-31T23:00:00-05:00' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "at", "op": "gt", "value": "9999-12-30T23:00:00-05:00"},
     "'9999-12-30T23:00:00-05:00' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "day", "op": "between", "value": ["2020-01-01", "9999-12-31"]},
     "'9999-12-31' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "day", "op": "in", "value": ["0001-01-01"]},
     "'0001-01-01' is out of range: dates go from 0001-01-02 to 9999-12-30."),
    ({"attr": "at", "op": "in_last", "value": 10**9, "unit": "days"},
     "needs a whole number of days from 0 to 36600."),
    ({"attr": "at", "op": "in_next", "value": 10**9, "unit": "months"},
     "needs a whole number of months from 0 to 1200."),
    ({"attr": "d", "op": "gt", "value": "1e200000"}, "d: '1e200000' is not a valid decimal."),
])
def test_values_out_of_range_are_problems_with_their_path(workspace, things, node, message):
    definition = {"entity": "thing", "rule": {"all": [{"attr": "i", "op": "gt", "value": 0},
                                                      {"attr": "t", "op": "is_not_empty"}, node]}}
    assert problems(workspace, definition) == [{"path": "rule.all[2].value", "message": message}]


def test_the_widest_accepted_values_count_without_error(workspace, things):
    for node, expected in [
        ({"attr": "at", "op": "on", "value": "9999-12-30"}, []),
        ({"attr": "at", "op": "after", "value": "9999-12-30"}, []),
        ({"attr": "at", "op": "before", "value": "0001-01-02"}, []),
        ({"attr": "day", "op": "lt", "value": "9999-12-30"}, [1, 2, 3, 5]),
        ({"attr": "at", "op": "more_than_ago", "value": 1200, "unit": "months"}, []),
        ({"attr": "at", "op": "in_next", "value": 36600, "unit": "days"}, [5]),
        ({"attr": "i", "op": "lt", "value": 10**40}, [1, 2, 3, 5]),
        ({"attr": "i", "op": "in", "value": [-(10**30), 5, 10**30]}, [1]),
    ]:
        assert keys(workspace, node) == expected, node


def test_aggregate_thresholds_out_of_range_are_problems(workspace):
    from tests.factories import make_travel_model

    make_travel_model(workspace)
    for node, message in [
        ({"related": "bookings", "agg": "max", "attr": "start_date", "op": "gt", "value": "9999-12-31"},
         "'9999-12-31' is out of range: dates go from 0001-01-02 to 9999-12-30."),
        ({"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt", "value": "1e999999"},
         "sum: '1e999999' is not a valid decimal."),
    ]:
        assert problems(workspace, {"entity": "customer", "rule": {"all": [
            {"attr": "country", "op": "eq", "value": "NL"}, node]}}) == [
            {"path": "rule.all[1].value", "message": message}]
    huge = {"related": "bookings", "agg": "count", "op": "lt", "value": 10**30}
    count = selectors.count(definition=check_definition(workspace=workspace, definition={
        "entity": "customer", "rule": huge}), now=NOW).count
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ws_{workspace.pk}.customer")
        assert count == cursor.fetchone()[0]


def test_the_api_answers_a_date_out_of_range_with_a_400_and_its_path(workspace, things):
    api = Api(workspace)
    definition = {"entity": "thing", "rule": {"all": [{"attr": "i", "op": "gt", "value": 0},
                                                      {"attr": "t", "op": "is_not_empty"},
                                                      {"attr": "at", "op": "after", "value": "9999-12-31"}]}}
    for path, body in [("audience-rules/count/", {"definition": definition}),
                       ("audiences/", {"name": "Far", "definition": definition})]:
        response = api.post(path, body)
        assert response.status_code == 400, response.content
        assert json.loads(response.content)["problems"] == [
            {"path": "rule.all[2].value",
             "message": "'9999-12-31' is out of range: dates go from 0001-01-02 to 9999-12-30."}]
    assert not Audience.objects.filter(workspace=workspace, name="Far").exists()


# --- 5. an uploaded list holding COPY's end-of-data marker loses no key ----------------------

def test_an_uploaded_list_with_an_end_marker_line_keeps_every_key(workspace, api_client):
    from tests.factories import make_travel_model

    make_travel_model(workspace)
    response = api_client.upload({"name": "Marked", "entity": "customer"}, b"customer_id\n1\n\\.\n2\n3\n")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["size"] == 3
    assert body["upload_report"] == {
        "uploaded": 4, "matched": 3, "unmatched": 1, "invalid": 1, "duplicates": 0, "column": "customer_id",
        "unmatched_sample": [{"line": 3, "key": "\\."}]}


@pytest.fixture
def api_client(workspace):
    return Api(workspace)
