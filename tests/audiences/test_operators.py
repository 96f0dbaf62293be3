"""Every operator of every attribute type on a small table, with the exact keys each
returns: empty values, relative dates at a fixed `now`, time zones at day boundaries,
anniversaries across the new year and on 29 February, calendar months, and hostile
strings in every place of a rule that reaches SQL."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection

from apps.audiences import selectors, services
from apps.audiences.rules.compiler import compile_definition
from apps.audiences.rules.definition import OPERATORS, RuleError, check_definition
from apps.datamodel import services as datamodel
from apps.datamodel.ingestion import Options, ingest_csv
from tests.factories import WorkspaceFactory, make_travel_model

# Wednesday 15 January 2025, 13:00 in Amsterdam (the workspace's zone).
NOW = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)

ATTRIBUTES = [
    {"key": "t", "type": "text"}, {"key": "e", "type": "email"}, {"key": "p", "type": "phone"},
    {"key": "n", "type": "enum", "enum_values": ["red", "green", "blue"]}, {"key": "i", "type": "integer"},
    {"key": "d", "type": "decimal"}, {"key": "b", "type": "boolean"}, {"key": "day", "type": "date"},
    {"key": "at", "type": "datetime"},
]
# Row 4 is empty in every attribute. Row 2's `at` is just after midnight in Amsterdam
# (2025-01-01 00:30 there) but still 31 December in UTC.
ROWS = b"""id,t,e,p,n,i,d,b,day,at
1,Apple pie,ann@example.test,+31 6 1111 2222,red,5,1.50,true,2025-01-31,2025-01-01T11:30:00Z
2,apricot,Bob@Example.TEST,0612 345 678,green,-3,10.25,false,2024-02-29,2024-12-31T23:30:00Z
3,Banana split,cy@other.test,+44 20 7946 0000,blue,0,0,true,2025-02-28,2025-01-15T10:00:00Z
4,,,,,,,,,
5,100% _pure_,dee@example.test,+31 20 555 0101,red,12,-0.01,false,2025-01-15,2025-01-20T08:00:00Z
"""


def make_things(workspace, rows: bytes = ROWS, attributes=None):
    entity = datamodel.entity_create(workspace=workspace, actor=None, key="thing",
                                     primary_key={"key": "id", "type": "integer"},
                                     attributes=attributes or ATTRIBUTES)
    report = ingest_csv(entity=entity, stream=io.BytesIO(rows), options=Options())
    assert report.status == "done", report.as_dict()
    return entity


@pytest.fixture
def things(workspace):
    return make_things(workspace)


def keys(workspace, rule, *, now=NOW, entity="thing") -> list:
    """The keys a rule matches, by the compiled query; the count selector agrees."""
    definition = check_definition(workspace=workspace, definition={"entity": entity, "rule": rule})
    query = compile_definition(definition, now=now)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        found = sorted(row[0] for row in cursor.fetchall())
    assert selectors.count(definition=definition, now=now).count == len(found)
    return found


def problems(workspace, definition) -> list[dict]:
    with pytest.raises(RuleError) as caught:
        check_definition(workspace=workspace, definition=definition)
    return caught.value.problems


# (attribute, op, value, unit, keys)
CASES = [
    # text; ordering thresholds chosen so that C and linguistic collations agree
    ("t", "eq", "apricot", None, [2]),
    ("t", "ne", "apricot", None, [1, 3, 5]),
    ("t", "in", ["Apple pie", "Banana split", "zzz"], None, [1, 3]),
    ("t", "not_in", ["Apple pie"], None, [2, 3, 5]),
    ("t", "is_empty", None, None, [4]),
    ("t", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("t", "contains", "an", None, [3]),
    ("t", "contains", "%", None, [5]),  # no LIKE wildcards
    ("t", "contains", "_p", None, [5]),
    ("t", "not_contains", "an", None, [1, 2, 5]),
    ("t", "starts_with", "Ap", None, [1]),
    ("t", "ends_with", "split", None, [3]),
    ("t", "ieq", "APRICOT", None, [2]),
    ("t", "icontains", "AP", None, [1, 2]),
    ("t", "istarts_with", "a", None, [1, 2]),
    ("t", "iends_with", "PIE", None, [1]),
    ("t", "lt", "2", None, [5]),
    ("t", "lte", "Apple pie", None, [1, 5]),
    ("t", "gt", "Apple pie", None, [2, 3]),
    ("t", "gte", "Apple pie", None, [1, 2, 3]),
    ("t", "between", ["100", "Apple pie"], None, [1, 5]),
    # email
    ("e", "eq", "ann@example.test", None, [1]),
    ("e", "ne", "cy@other.test", None, [1, 2, 5]),
    ("e", "in", ["cy@other.test", "dee@example.test"], None, [3, 5]),
    ("e", "not_in", ["cy@other.test"], None, [1, 2, 5]),
    ("e", "is_empty", None, None, [4]),
    ("e", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("e", "contains", "@example", None, [1, 5]),
    ("e", "not_contains", "example", None, [2, 3]),
    ("e", "starts_with", "Bob", None, [2]),
    ("e", "ends_with", "@example.test", None, [1, 5]),
    ("e", "ieq", "bob@example.test", None, [2]),
    ("e", "icontains", "EXAMPLE", None, [1, 2, 5]),
    ("e", "istarts_with", "BOB@", None, [2]),
    ("e", "iends_with", "@EXAMPLE.TEST", None, [1, 2, 5]),
    # phone
    ("p", "eq", "0612 345 678", None, [2]),
    ("p", "ne", "0612 345 678", None, [1, 3, 5]),
    ("p", "in", ["+31 6 1111 2222", "+1 555"], None, [1]),
    ("p", "not_in", ["0612 345 678"], None, [1, 3, 5]),
    ("p", "is_empty", None, None, [4]),
    ("p", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("p", "contains", " 20 ", None, [3, 5]),
    ("p", "not_contains", "+", None, [2]),
    ("p", "starts_with", "+31", None, [1, 5]),
    ("p", "ends_with", "0000", None, [3]),
    ("p", "ieq", "+44 20 7946 0000", None, [3]),
    ("p", "icontains", "555", None, [5]),
    ("p", "istarts_with", "06", None, [2]),
    ("p", "iends_with", "0101", None, [5]),
    # enum
    ("n", "eq", "red", None, [1, 5]),
    ("n", "ne", "red", None, [2, 3]),
    ("n", "in", ["green", "blue"], None, [2, 3]),
    ("n", "not_in", ["green"], None, [1, 3, 5]),
    ("n", "is_empty", None, None, [4]),
    ("n", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("n", "contains", "re", None, [1, 2, 5]),
    ("n", "not_contains", "r", None, [3]),
    ("n", "starts_with", "b", None, [3]),
    ("n", "ends_with", "d", None, [1, 5]),
    ("n", "ieq", "RED", None, [1, 5]),
    ("n", "icontains", "LU", None, [3]),
    ("n", "istarts_with", "G", None, [2]),
    ("n", "iends_with", "EN", None, [2]),
    # integer
    ("i", "eq", 0, None, [3]),
    ("i", "ne", 0, None, [1, 2, 5]),
    ("i", "in", [5, 12, 99], None, [1, 5]),
    ("i", "not_in", [5], None, [2, 3, 5]),
    ("i", "is_empty", None, None, [4]),
    ("i", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("i", "lt", 0, None, [2]),
    ("i", "lte", 0, None, [2, 3]),
    ("i", "gt", 5, None, [5]),
    ("i", "gte", 5, None, [1, 5]),
    ("i", "between", [-3, 5], None, [1, 2, 3]),
    ("i", "eq", 10**30, None, []),  # beyond bigint: compared as a number, not an error
    # decimal (as JSON numbers or as strings)
    ("d", "eq", "1.5", None, [1]),
    ("d", "ne", "0", None, [1, 2, 5]),
    ("d", "in", ["0", "10.25"], None, [2, 3]),
    ("d", "not_in", ["0"], None, [1, 2, 5]),
    ("d", "is_empty", None, None, [4]),
    ("d", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("d", "lt", 0, None, [5]),
    ("d", "lte", "0.00", None, [3, 5]),
    ("d", "gt", 1.5, None, [2]),
    ("d", "gte", 1.5, None, [1, 2]),
    ("d", "between", ["-0.01", "1.5"], None, [1, 3, 5]),
    # boolean
    ("b", "eq", True, None, [1, 3]),
    ("b", "ne", True, None, [2, 5]),
    ("b", "is_true", None, None, [1, 3]),
    ("b", "is_false", None, None, [2, 5]),
    ("b", "is_empty", None, None, [4]),
    ("b", "is_not_empty", None, None, [1, 2, 3, 5]),
    # date; today is 2025-01-15
    ("day", "eq", "2025-01-31", None, [1]),
    ("day", "ne", "2025-01-31", None, [2, 3, 5]),
    ("day", "in", ["2024-02-29", "2025-02-28"], None, [2, 3]),
    ("day", "not_in", ["2024-02-29"], None, [1, 3, 5]),
    ("day", "is_empty", None, None, [4]),
    ("day", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("day", "lt", "2025-01-15", None, [2]),
    ("day", "lte", "2025-01-15", None, [2, 5]),
    ("day", "gt", "2025-01-31", None, [3]),
    ("day", "gte", "2025-01-31", None, [1, 3]),
    ("day", "between", ["2025-01-15", "2025-01-31"], None, [1, 5]),
    ("day", "before", "2025-01-15", None, [2]),
    ("day", "after", "2025-01-31", None, [3]),
    ("day", "on", "2024-02-29", None, [2]),
    ("day", "in_last", 0, "days", [5]),
    ("day", "in_last", 400, "days", [2, 5]),
    ("day", "in_next", 16, "days", [1, 5]),
    ("day", "in_next", 15, "days", [5]),
    ("day", "in_next", 2, "weeks", [5]),
    ("day", "in_next", 1, "months", [1, 5]),
    ("day", "more_than_ago", 30, "days", [2]),
    ("day", "more_than_ago", 0, "days", [2]),
    ("day", "anniversary_in_next", 16, None, [1, 5]),
    # datetime; now is 2025-01-15 13:00 in Amsterdam
    ("at", "eq", "2025-01-15T10:00:00Z", None, [3]),
    ("at", "eq", "2025-01-15T11:00:00", None, [3]),  # no offset: the workspace's zone
    ("at", "ne", "2025-01-15T10:00:00Z", None, [1, 2, 5]),
    ("at", "in", ["2025-01-01T12:30:00+01:00", "2025-01-20T08:00:00Z"], None, [1, 5]),
    ("at", "not_in", ["2025-01-01T12:30:00+01:00"], None, [2, 3, 5]),
    ("at", "is_empty", None, None, [4]),
    ("at", "is_not_empty", None, None, [1, 2, 3, 5]),
    ("at", "lt", "2025-01-01T00:30:00+01:00", None, []),
    ("at", "lte", "2025-01-01T00:30:00+01:00", None, [2]),
    ("at", "gt", "2025-01-15T10:00:00Z", None, [5]),
    ("at", "gte", "2025-01-15T10:00:00Z", None, [3, 5]),
    ("at", "between", ["2025-01-01T00:00:00", "2025-01-01T23:59:59"], None, [1, 2]),
    ("at", "on", "2025-01-01", None, [1, 2]),  # local days: row 2 is 31 December in UTC
    ("at", "on", "2024-12-31", None, []),
    ("at", "before", "2025-01-01", None, []),
    ("at", "after", "2025-01-01", None, [3, 5]),
    ("at", "in_last", 14, "days", [3]),  # from 1 January 13:00 local
    ("at", "in_last", 15, "days", [1, 2, 3]),
    ("at", "in_next", 5, "days", [5]),
    ("at", "in_next", 4, "days", []),
    ("at", "more_than_ago", 14, "days", [1, 2]),
    ("at", "more_than_ago", 1, "weeks", [1, 2]),
    ("at", "in_last", 1, "months", [1, 2, 3]),
    ("at", "anniversary_in_next", 0, None, [3]),
    ("at", "anniversary_in_next", 5, None, [3, 5]),
]
TYPE_OF = {a["key"]: a["type"] for a in ATTRIBUTES}


def _node(attr, op, value, unit):
    node = {"attr": attr, "op": op}
    if value is not None:
        node["value"] = value
    if unit is not None:
        node["unit"] = unit
    return node


def test_every_operator_of_every_type_is_in_the_table():
    covered = {(TYPE_OF[attr], op) for attr, op, *_ in CASES}
    expected = {(kind, op) for kind, ops in OPERATORS.items() for op in ops}
    assert expected - covered == set()


@pytest.mark.parametrize("attr,op,value,unit,expected", [
    pytest.param(*case, id=f"{TYPE_OF[case[0]]}-{case[1]}-{case[2]!r}") for case in CASES])
def test_operator_returns_exactly_these_keys(workspace, things, attr, op, value, unit, expected):
    assert keys(workspace, _node(attr, op, value, unit)) == expected


# --- empty values ------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    {"attr": "t", "op": "ne", "value": "apricot"}, {"attr": "t", "op": "not_in", "value": ["apricot"]},
    {"attr": "t", "op": "not_contains", "value": "zzz"}, {"attr": "n", "op": "not_contains", "value": "zzz"},
    {"attr": "i", "op": "ne", "value": 99}, {"attr": "d", "op": "not_in", "value": [99]},
    {"attr": "b", "op": "ne", "value": True}, {"attr": "day", "op": "ne", "value": "1999-01-01"},
    {"attr": "at", "op": "not_in", "value": ["1999-01-01T00:00:00Z"]}, {"attr": "i", "op": "lt", "value": 1000},
    {"attr": "day", "op": "more_than_ago", "value": 0, "unit": "days"},
], ids=lambda r: f"{r['attr']}-{r['op']}")
def test_ne_not_in_not_contains_and_comparisons_do_not_match_empty_values(workspace, things, rule):
    assert 4 not in keys(workspace, rule)
    assert 4 in keys(workspace, {"not": rule})


def test_not_is_the_complement_and_matches_empty_values(workspace, things):
    assert keys(workspace, {"not": {"attr": "t", "op": "eq", "value": "apricot"}}) == [1, 3, 4, 5]
    assert keys(workspace, {"not": {"attr": "t", "op": "ne", "value": "apricot"}}) == [2, 4]
    assert keys(workspace, {"not": {"attr": "t", "op": "is_empty"}}) == [1, 2, 3, 5]
    assert keys(workspace, {"not": {"not": {"attr": "i", "op": "gt", "value": 0}}}) == [1, 5]
    # within a group: a condition on an empty value is false, not unknown
    assert keys(workspace, {"not": {"any": [{"attr": "i", "op": "gt", "value": 0},
                                            {"attr": "b", "op": "is_true"}]}}) == [2, 4]
    assert keys(workspace, {"not": {"all": [{"attr": "i", "op": "gte", "value": 0},
                                            {"attr": "t", "op": "is_not_empty"}]}}) == [2, 4]


# --- time zones at day boundaries ----------------------------------------------------------------

ZONE_ROWS = b"""id,day,at
1,2025-01-02,2025-01-01T11:30:00Z
2,2025-01-01,2025-01-01T07:59:00Z
"""


@pytest.mark.parametrize("zone,expected", [
    # 2025-01-01T11:30Z is 2 January 00:30 in Auckland (UTC+13), 1 January 03:30 in Los Angeles
    ("Pacific/Auckland", {"on-jan-2": [1], "on-jan-1": [2], "today": [1], "after-jan-1": [1], "anniversary": [1]}),
    # 2025-01-01T07:59Z is 31 December 23:59 in Los Angeles (UTC-8)
    ("America/Los_Angeles", {"on-jan-2": [], "on-jan-1": [1], "today": [2], "after-jan-1": [], "anniversary": [1]}),
])
def test_day_boundaries_follow_the_workspace_time_zone(zone, expected, db):
    workspace = WorkspaceFactory(slug=f"zone-{zone.split('/')[1].lower()}", time_zone=zone)
    make_things(workspace, ZONE_ROWS, [{"key": "day", "type": "date"}, {"key": "at", "type": "datetime"}])
    now = dt.datetime(2025, 1, 1, 11, 30, tzinfo=dt.UTC)  # just after midnight in Auckland
    found = {
        "on-jan-2": keys(workspace, {"attr": "at", "op": "on", "value": "2025-01-02"}, now=now),
        "on-jan-1": keys(workspace, {"attr": "at", "op": "on", "value": "2025-01-01"}, now=now),
        "today": keys(workspace, {"attr": "day", "op": "in_last", "value": 0, "unit": "days"}, now=now),
        "after-jan-1": keys(workspace, {"attr": "at", "op": "after", "value": "2025-01-01"}, now=now),
        "anniversary": keys(workspace, {"attr": "at", "op": "anniversary_in_next", "value": 0}, now=now),
    }
    assert found == expected


# --- anniversaries and calendar months ------------------------------------------------------------

BIRTHDAYS = b"""id,day
1,1990-12-29
2,1985-12-30
3,2000-01-01
4,1970-01-04
5,1999-01-05
6,1992-02-29
7,
"""


def _birthdays(workspace):
    return make_things(workspace, BIRTHDAYS, [{"key": "day", "type": "date"}])


@pytest.mark.parametrize("now,days,expected", [
    (dt.datetime(2024, 12, 30, 12, tzinfo=dt.UTC), 5, [2, 3, 4]),  # 30 Dec .. 4 Jan, across the new year
    (dt.datetime(2024, 12, 30, 12, tzinfo=dt.UTC), 0, [2]),
    (dt.datetime(2024, 12, 31, 23, 30, tzinfo=dt.UTC), 0, [3]),  # already 1 January in Amsterdam
    (dt.datetime(2025, 2, 25, 12, tzinfo=dt.UTC), 3, [6]),  # 2025 has no 29 Feb: it falls on the 28th
    (dt.datetime(2028, 2, 25, 12, tzinfo=dt.UTC), 3, []),  # 2028 has one
    (dt.datetime(2028, 2, 25, 12, tzinfo=dt.UTC), 4, [6]),
    (dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC), 364, [1, 2, 3, 4, 5, 6]),  # to 28 Feb 2026
    (dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC), 364, [1, 2, 3, 4, 5, 6]),  # to 28 Feb 2025
    (dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC), 364, [1, 2, 3, 4, 5]),  # to 28 Feb 2028, a day short of the 29th
    (dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC), 365, [1, 2, 3, 4, 5, 6]),  # a whole year: every date
])
def test_anniversary_in_next(workspace, now, days, expected):
    _birthdays(workspace)
    assert keys(workspace, {"attr": "day", "op": "anniversary_in_next", "value": days}, now=now) == expected


MONTH_ENDS = b"""id,day
1,2025-02-27
2,2025-02-28
3,2025-03-01
4,2024-02-29
5,2024-03-01
"""


@pytest.mark.parametrize("now,op,months,expected", [
    (dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC), "in_next", 1, [1, 2]),  # 31 Jan + 1 month = 28 Feb
    (dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC), "in_next", 1, [4]),  # 29 Feb in a leap year
    (dt.datetime(2025, 3, 31, 12, tzinfo=dt.UTC), "in_last", 1, [2, 3]),  # 31 Mar - 1 month = 28 Feb
    (dt.datetime(2025, 3, 31, 12, tzinfo=dt.UTC), "more_than_ago", 1, [1, 4, 5]),
    (dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC), "in_last", 12, [1, 2, 4, 5]),  # from 28 Feb 2024
    (dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC), "in_next", 12, [1, 2, 4, 5]),  # 29 Feb + 12 months = 28 Feb
])
def test_months_are_calendar_months_clamped_to_the_month_end(workspace, now, op, months, expected):
    make_things(workspace, MONTH_ENDS, [{"key": "day", "type": "date"}])
    assert keys(workspace, {"attr": "day", "op": op, "value": months, "unit": "months"}, now=now) == expected


# --- hostile strings -----------------------------------------------------------------------------

def test_values_are_bound_never_sql(workspace, things):
    expected = {"eq": [], "ne": [1, 2, 3, 5], "contains": [], "starts_with": [], "ieq": [], "icontains": []}
    for value in ["x' OR '1'='1", "'; DROP TABLE thing; --", "%(p0)s", "\\'; SELECT 1; --", "$$; DROP $$"]:
        for op, found in expected.items():
            definition = check_definition(workspace=workspace, definition={
                "entity": "thing", "rule": {"attr": "t", "op": op, "value": value}})
            query = compile_definition(definition, now=NOW)
            assert "'" not in query.sql  # no literal at all: the value travels as a parameter
            bound = [v for p in query.params.values() for v in (p if isinstance(p, list) else [p])]
            assert value in bound
            assert keys(workspace, {"attr": "t", "op": op, "value": value}) == found, (op, value)


@pytest.mark.parametrize("definition,path", [
    ({"entity": "thing", "rule": {"attr": 't" OR 1=1 --', "op": "eq", "value": "x"}}, "rule"),
    ({"entity": "thing", "rule": {"attr": "t; DROP TABLE thing", "op": "is_empty"}}, "rule"),
    ({"entity": "thing", "rule": {"attr": "pg_catalog.pg_class.relname", "op": "is_empty"}}, "rule"),
    ({"entity": "thing", "rule": {"attr": "t", "op": "eq; DROP TABLE thing", "value": "x"}}, "rule"),
    ({"entity": "thing", "rule": {"attr": "day", "op": "in_last", "value": 1, "unit": "days'); --"}},
     "rule.value"),
    ({"entity": "thing", "rule": {"attr": "t", "op": "contains", "value": "a\x00b"}}, "rule.value"),
    ({"entity": "thing", "rule": {"attr": "t", "op": "eq", "value": "a\x00b"}}, "rule.value"),
    ({"entity": "thing", "rule": {"attr": "i", "op": "eq", "value": "1 OR 1=1"}}, "rule.value"),
    ({"entity": "thing", "rule": {"attr": "d", "op": "lt", "value": "NaN"}}, "rule.value"),
    ({"entity": "thing", "rule": {"attr": "day", "op": "on", "value": "2025-01-01'; --x"}}, "rule.value"),
    ({"entity": 'thing"; DROP TABLE thing; --', "rule": None}, "entity"),
    ({"entity": "pg_class", "rule": None}, "entity"),
    ({"entity": "thing", "rule": {"in_audience": "1) OR (1=1"}}, "rule"),
    ({"entity": "thing", "rule": {"not_in_audience": 1.5}}, "rule"),
    ({"entity": "thing", "dimension": ["owner; DROP TABLE thing"]}, "dimension[0]"),
])
def test_identifiers_and_malformed_values_are_refused_before_any_sql(workspace, things, definition, path):
    assert [p["path"] for p in problems(workspace, definition)] == [path]


def test_link_and_related_names_are_refused_before_any_sql(workspace):
    make_travel_model(workspace)
    for definition, path in [
        ({"entity": "booking", "rule": {"attr": 'customer" c; --.country', "op": "is_empty"}}, "rule"),
        ({"entity": "booking", "rule": {"attr": "customer.country; DROP", "op": "is_empty"}}, "rule"),
        ({"entity": "customer", "rule": {"related": "bookings b; DROP TABLE booking; --", "exists": True}}, "rule"),
        ({"entity": "customer", "rule": {"related": "bookings", "agg": "sum", "attr": "amount) FROM x; --",
                                         "op": "gt", "value": 1}}, "rule.attr"),
        ({"entity": "customer", "rule": {"related": "bookings", "agg": "sum(1); --", "attr": "amount",
                                         "op": "gt", "value": 1}}, "rule.agg"),
        ({"entity": "customer", "rule": {"related": "bookings", "agg": "count", "op": "> 0 OR 1=1 --",
                                         "value": 1}}, "rule.op"),
    ]:
        assert [p["path"] for p in problems(workspace, definition)] == [path], definition
    with pytest.raises(RuleError) as caught:
        selectors.distribution(definition=check_definition(workspace=workspace, definition={"entity": "customer"}),
                               attribute='country", (SELECT 1) AS "x')
    assert caught.value.problems[0]["path"] == "attribute"


def test_an_export_cannot_be_turned_into_sql_by_its_values(workspace, other_workspace):
    # A value holding a placeholder, beside a value that would break out of quotes if it
    # were pasted into that placeholder: the export reads the other workspace's emails if
    # values were inlined one by one.
    make_travel_model(workspace)
    make_travel_model(other_workspace)
    payload = f"|| (SELECT string_agg(email, chr(44)) FROM ws_{other_workspace.pk}.customer) ||"
    audience = services.audience_create(workspace=workspace, actor=None, name="Trap", definition={
        "entity": "customer", "rule": {"any": [{"attr": "country", "op": "eq", "value": payload},
                                               {"attr": "city", "op": "eq", "value": "%(p0)s"}]}})
    exported = b"".join(services.export_rows(audience=audience, attributes=["customer_id", "city"]))
    assert exported == b"customer_id,city\n"
    shown = selectors.explain_sql(definition=selectors.definition_of(audience))
    assert shown.endswith(f"""("t1"."country" = '{payload}' OR "t1"."city" = '%(p0)s')""")
