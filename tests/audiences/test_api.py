"""The audiences API as a partner (or the builder) uses it with a workspace API key: saved
audiences, rule validation with the path of each problem, evaluation on the travel data,
export, snapshots, uploads, dimension changes, isolation and roles."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.audiences import services
from apps.audiences.models import Audience
from apps.datamodel.ingestion.services import records_batch
from apps.tenants.models import AuditEvent
from tests.factories import make_api_key, make_travel_model
from tests.isolation.world import database_digest


class Api:
    """A client with a workspace API key and the workspace's URL prefix."""

    def __init__(self, workspace, role: str = "marketer", name: str = ""):
        _, raw = make_api_key(workspace, role=role, name=name or f"test {role}")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.prefix = f"/api/v1/workspaces/{workspace.slug}/"

    def url(self, path: str) -> str:
        return self.prefix + path

    def get(self, path: str, **params):
        return self.client.get(self.url(path), params)

    def send(self, method: str, path: str, body: Any = None):
        return self.client.generic(method, self.url(path), json.dumps(body) if body is not None else "",
                                   content_type="application/json")

    def post(self, path: str, body: Any = None):
        return self.send("POST", path, body)

    def upload(self, fields: dict[str, Any], content: bytes, name: str = "keys.csv"):
        return self.client.post(self.url("audiences/upload/"),
                                {**fields, "file": SimpleUploadedFile(name, content, content_type="text/csv")})


@pytest.fixture
def api(workspace):
    return Api(workspace)


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)


NL_OR_DE_WITH_BOOKINGS = {"entity": "customer", "rule": {"all": [
    {"attr": "country", "op": "in", "value": ["NL", "DE"]},
    {"related": "bookings", "exists": True},
]}}


def created(api: Api, name: str, definition: dict, description: str = "") -> dict:
    response = api.post("audiences/", {"name": name, "description": description, "definition": definition})
    assert response.status_code == 201, response.content
    return response.json()


def volatile_free(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("created_at", "updated_at", "last_evaluated_at",
                                                        "last_evaluation_ms")}


def problems(response) -> list[dict]:
    assert response.status_code == 400, response.content
    return response.json()["problems"]


# --- saved audiences ---------------------------------------------------------------------------

def test_audience_crud_round_trip(workspace, api, travel):
    # create
    response = api.post("audiences/", {"name": "Dutch and German travellers", "description": "Booked at least once",
                                       "definition": NL_OR_DE_WITH_BOOKINGS})
    assert response.status_code == 201, response.content
    body = response.json()
    audience = Audience.objects.get(workspace=workspace)
    url = f"http://testserver/api/v1/workspaces/northwind/audiences/{audience.pk}/"
    expected = {"id": audience.pk, "name": "Dutch and German travellers", "description": "Booked at least once",
                "entity": "customer", "origin": "rule", "definition": NL_OR_DE_WITH_BOOKINGS, "status": "ready",
                "status_message": "", "size": None, "source_audience": None, "upload_report": None,
                "created_by": None, "updated_by": None, "url": url}
    assert volatile_free(body) == expected
    # read, list
    assert api.get(f"audiences/{audience.pk}/").json() == body
    listing = api.get("audiences/").json()
    assert (listing["count"], listing["results"]) == (1, [body])
    # count: evaluates and stores the size
    response = api.post(f"audiences/{audience.pk}/count/")
    assert response.status_code == 200, response.content
    assert (response.json()["count"], response.json()["entity"]) == (2, "customer")
    assert response.json()["sql"].startswith('SELECT count(*) FROM (SELECT "t1"."customer_id" FROM')
    audience.refresh_from_db()
    assert audience.size == 2 and audience.last_evaluated_at is not None
    assert api.get(f"audiences/{audience.pk}/").json()["size"] == 2
    # change name, description and rule: the size is forgotten
    narrower = {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}
    response = api.send("PATCH", f"audiences/{audience.pk}/", {"name": "Dutch", "description": "",
                                                               "definition": narrower})
    assert response.status_code == 200, response.content
    assert volatile_free(response.json()) == {**expected, "name": "Dutch", "description": "", "definition": narrower}
    assert api.post(f"audiences/{audience.pk}/count/").json()["count"] == 1
    # delete
    assert api.send("DELETE", f"audiences/{audience.pk}/").status_code == 204
    assert api.get(f"audiences/{audience.pk}/").status_code == 404
    assert not Audience.objects.filter(workspace=workspace).exists()
    verbs = list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="audience.").order_by("id")
                 .values_list("verb", flat=True))
    assert verbs == ["audience.created", "audience.updated", "audience.deleted"]


def test_list_filters_by_origin_entity_and_status(workspace, api, travel):
    created(api, "B customers", {"entity": "customer"})
    created(api, "A bookings", {"entity": "booking", "rule": {"attr": "status", "op": "eq", "value": "confirmed"}})
    snapshot = services.snapshot_create(workspace=workspace, actor=None, name="C frozen",
                                        definition={"entity": "booking"}, enqueue=False)

    def names(**params):
        response = api.get("audiences/", **params)
        assert response.status_code == 200, response.content
        return [a["name"] for a in response.json()["results"]]

    assert names() == ["A bookings", "B customers", "C frozen"]
    assert names(entity="booking") == ["A bookings", "C frozen"]
    assert names(origin="snapshot") == ["C frozen"]
    assert names(status="building") == [snapshot.name]
    assert api.get("audiences/", origin="magic").json() == {"origin": ['"magic" is not a valid choice.']}
    assert api.get("audiences/", entity="store").status_code == 404


def test_name_clashes_and_bad_bodies_are_400_and_create_nothing(workspace, api, travel):
    created(api, "Everyone", {"entity": "customer"})
    response = api.post("audiences/", {"name": "Everyone", "definition": {"entity": "customer"}})
    assert (response.status_code, response.json()) == (400, {"name": ["An audience named 'Everyone' already exists."]})
    response = api.post("audiences/", {"name": "No rule"})
    assert (response.status_code, response.json()) == (400, {"definition": ["This field is required."]})
    response = api.post("audiences/", {"name": "Wrong", "definition": "customer"})
    assert problems(response) == [{"path": "definition", "message": "must be an object with 'entity' and 'rule'."}]
    assert Audience.objects.filter(workspace=workspace).count() == 1


def test_duplicate_copies_the_rule_and_numbers_the_name(workspace, api, travel):
    source = created(api, "Travellers", NL_OR_DE_WITH_BOOKINGS)
    first = api.post(f"audiences/{source['id']}/duplicate/", {})
    second = api.post(f"audiences/{source['id']}/duplicate/", {})
    named = api.post(f"audiences/{source['id']}/duplicate/", {"name": "Mine"})
    assert [r.status_code for r in (first, second, named)] == [201, 201, 201]
    assert [r.json()["name"] for r in (first, second, named)] == [
        "Travellers (copy)", "Travellers (copy) 2", "Mine"]
    assert {r.json()["definition"] == NL_OR_DE_WITH_BOOKINGS for r in (first, second, named)} == {True}
    response = api.post(f"audiences/{source['id']}/duplicate/", {"name": "Mine"})
    assert (response.status_code, response.json()) == (400, {"name": ["An audience named 'Mine' already exists."]})


# --- validation: every problem with the path of its node -----------------------------------------

def _nested(depth: int) -> dict:
    node: dict = {"attr": "country", "op": "eq", "value": "NL"}
    for _ in range(depth):
        node = {"all": [node]}
    return node


TEXT_OPS = ("between, contains, ends_with, eq, gt, gte, icontains, iends_with, ieq, in, is_empty, is_not_empty, "
            "istarts_with, lt, lte, ne, not_contains, not_in, starts_with")

PROBLEM_CASES = [
    pytest.param({"entity": "customer", "rule": {"attr": "shoe_size", "op": "eq", "value": 42}},
                 [{"path": "rule", "message": "customer has no attribute 'shoe_size'."}], id="unknown-attribute"),
    pytest.param({"entity": "customer", "rule": {"all": [{"attr": "country", "op": "eq", "value": "NL"},
                                                         {"attr": "country", "op": "in_last", "value": 3}]}},
                 [{"path": "rule.all[1]", "message": f"operator 'in_last' does not fit text attribute 'country'; "
                                                     f"use one of {TEXT_OPS}."}], id="operator-not-fitting-type"),
    pytest.param({"entity": "customer", "rule": {"any": [{"attr": "customer_id", "op": "gt", "value": "ten"}]}},
                 [{"path": "rule.any[0].value", "message": "customer_id: 'ten' is not a valid integer."}],
                 id="wrong-value-type"),
    pytest.param({"entity": "customer", "rule": {"attr": "birth_date", "op": "eq", "value": 19850314}},
                 [{"path": "rule.value", "message": "19850314 is not a date (YYYY-MM-DD)."}],
                 id="number-for-a-date"),
    pytest.param({"entity": "customer", "rule": {"attr": "first_name", "op": "eq", "value": 7}},
                 [{"path": "rule.value", "message": "7 is not text."}], id="number-for-text"),
    pytest.param({"entity": "customer", "rule": {"attr": "loyalty_tier", "op": "in", "value": ["gold", "diamond"]}},
                 [{"path": "rule.value",
                   "message": "'diamond' is not one of loyalty_tier's values (none, silver, gold, platinum)."}],
                 id="enum-value-not-allowed"),
    pytest.param({"entity": "customer", "rule": _nested(11)},
                 [{"path": "rule" + ".all[0]" * 11, "message": "groups nest at most 10 deep."}],
                 id="nested-deeper-than-10"),
    pytest.param({"entity": "booking", "rule": {"attr": "store.city", "op": "eq", "value": "Paris"}},
                 [{"path": "rule", "message": "booking has no link 'store' (its links: customer, product)."}],
                 id="unknown-link"),
    pytest.param({"entity": "customer", "rule": {"related": "orders", "exists": True}},
                 [{"path": "rule", "message": "customer has no related rows named 'orders' (its one-to-many links: "
                                              "bookings)."}], id="unknown-related-name"),
    pytest.param({"entity": "customer", "rule": {"related": "bookings", "agg": "sum", "attr": "status", "op": "gt",
                                                 "value": 1}},
                 [{"path": "rule.attr", "message": "sum needs a number; booking.status is enum."}],
                 id="aggregate-on-a-non-number"),
    pytest.param({"entity": "client", "rule": None},
                 [{"path": "entity", "message": "no entity 'client' (entities: booking, customer, product)."}],
                 id="unknown-entity"),
    pytest.param({"entity": "booking", "dimension": ["customer", "shop"]},
                 [{"path": "dimension[1]", "message": "customer has no link 'shop'."}], id="unknown-dimension-link"),
    pytest.param({"entity": "customer", "rule": {"all": [{"attr": "country", "op": "is_empty", "value": "NL"},
                                                         {"attr": "nope", "op": "eq", "value": 1},
                                                         {"attr": "country", "op": "between", "value": ["Z", "A"]}]},
                  "extra": 1},
                 [{"path": "definition", "message": "unknown field(s): extra."},
                  {"path": "rule.all[0].value", "message": "is_empty takes no value."},
                  {"path": "rule.all[1]", "message": "customer has no attribute 'nope'."},
                  {"path": "rule.all[2].value", "message": "between needs low <= high."}], id="every-problem-at-once"),
]


@pytest.mark.parametrize("definition,expected", PROBLEM_CASES)
def test_a_bad_definition_is_a_400_with_the_path_and_the_reason_everywhere(workspace, api, travel, definition,
                                                                        expected):
    before = database_digest()
    for path, body in [("audience-rules/validate/", {"definition": definition}),
                       ("audience-rules/count/", {"definition": definition}),
                       ("audience-rules/sql/", {"definition": definition}),
                       ("audience-rules/sample/", {"definition": definition}),
                       ("audiences/", {"name": "Bad", "definition": definition})]:
        assert problems(api.post(path, body)) == expected, path
    assert database_digest() == before


def test_validate_says_valid_and_the_entity_of_the_result(api, travel):
    response = api.post("audience-rules/validate/", {"definition": {"entity": "booking", "dimension": ["customer"]}})
    assert (response.status_code, response.json()) == (200, {"valid": True, "entity": "customer"})
    response = api.post("audience-rules/validate/", {"definition": _nested(10)
                                                     and {"entity": "customer", "rule": _nested(10)}})
    assert response.json() == {"valid": True, "entity": "customer"}


def test_audience_references_must_be_of_this_workspace_and_entity_and_not_a_cycle(workspace, other_workspace, api,
                                                                                    travel):
    make_travel_model(other_workspace)
    foreign = services.audience_create(workspace=other_workspace, actor=None, name="Theirs",
                                       definition={"entity": "customer"})
    bookings = created(api, "Confirmed bookings", {"entity": "booking", "rule": {
        "attr": "status", "op": "eq", "value": "confirmed"}})
    base = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    # another workspace's audience does not exist here (the same answer as a missing one)
    for ref in (foreign.pk, 999999, "1 OR 1=1", True):
        assert problems(api.post("audience-rules/validate/", {"definition": {
            "entity": "customer", "rule": {"in_audience": ref}}})) == [
            {"path": "rule", "message": f"there is no audience {ref!r} in this workspace."}]
    # another entity's audience
    assert problems(api.post("audience-rules/validate/", {"definition": {
        "entity": "customer", "rule": {"not_in_audience": bookings["id"]}}})) == [
        {"path": "rule", "message": "audience 'Confirmed bookings' is of booking, not customer."}]
    # itself, directly
    response = api.send("PATCH", f"audiences/{base['id']}/", {"definition": {
        "entity": "customer", "rule": {"any": [{"attr": "country", "op": "eq", "value": "NL"},
                                               {"in_audience": base["id"]}]}}})
    assert problems(response) == [{"path": "rule.any[1]", "message": "audience 'Dutch' refers back to itself."}]
    # itself, through another audience: Dutch <- Dutch or German <- (Dutch changed to use it)
    wider = created(api, "Dutch or German", {"entity": "customer", "rule": {"any": [
        {"in_audience": base["id"]}, {"attr": "country", "op": "eq", "value": "DE"}]}})
    response = api.send("PATCH", f"audiences/{base['id']}/", {"definition": {
        "entity": "customer", "rule": {"in_audience": wider["id"]}}})
    assert problems(response) == [{"path": "rule", "message": "audience 'Dutch or German' cannot be used: "
                                                              "audience 'Dutch' refers back to itself."}]
    assert Audience.objects.get(pk=base["id"]).definition["rule"] == {"attr": "country", "op": "eq", "value": "NL"}
    # references that are fine count as they should
    assert api.post(f"audiences/{wider['id']}/count/").json()["count"] == 2
    response = api.post("audience-rules/count/", {"definition": {"entity": "customer", "rule": {
        "not_in_audience": wider["id"]}}})
    assert response.json()["count"] == 1


# --- evaluation on the travel data ----------------------------------------------------------------

def test_count_sample_distribution_group_counts_and_sql_of_a_rule(api, travel):
    definition = {"entity": "customer", "rule": {"any": [
        {"attr": "country", "op": "eq", "value": "NL"},
        {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gte", "value": "1250"},
        {"attr": "birth_date", "op": "is_empty"},
    ]}}
    count = api.post("audience-rules/count/", {"definition": definition}).json()
    assert (count["count"], count["entity"]) == (3, "customer")
    assert isinstance(count["ms"], int)
    sample = api.post("audience-rules/sample/", {"definition": definition, "limit": 2}).json()
    assert sample["entity"] == "customer"
    assert [(r["customer_id"], r["first_name"], r["birth_date"], r["created_at"]) for r in sample["records"]] == [
        (1, "Anna", "1985-03-14", "2024-01-05T10:00:00+00:00"), (2, "Ben", "1990-07-01", "2024-02-10T09:30:00+00:00")]
    assert list(sample["records"][0]) == ["customer_id", "email", "phone", "first_name", "last_name", "country",
                                          "city", "postal_code", "street", "language", "birth_date", "loyalty_tier",
                                          "timezone", "created_at"]
    distribution = api.post("audience-rules/distribution/", {"definition": {"entity": "booking"},
                                                             "attribute": "amount"}).json()
    assert distribution == {"entity": "booking", "attribute": "amount",
                            "values": [{"value": "1250.00", "count": 2}, {"value": "640.50", "count": 1}]}
    distribution = api.post("audience-rules/distribution/", {"definition": definition, "attribute": "phone"}).json()
    assert distribution["values"] == [{"value": "+31612345678", "count": 1}, {"value": "+33612345678", "count": 1},
                                      {"value": None, "count": 1}]
    groups = api.post("audience-rules/group-counts/", {"definition": definition, "path": "rule"}).json()
    assert groups == {"groups": [{"path": "rule.any[0]", "count": 1}, {"path": "rule.any[1]", "count": 2},
                                 {"path": "rule.any[2]", "count": 1}, {"path": "rule", "count": 3}]}
    sql = api.post("audience-rules/sql/", {"definition": {"entity": "customer", "rule": {
        "attr": "country", "op": "eq", "value": "N'L"}}}).json()
    assert sql["entity"] == "customer"
    assert sql["sql"].endswith(""""t1"."country" = 'N''L'""")


def test_group_counts_of_a_nested_group_and_bad_paths(api, travel):
    definition = {"entity": "booking", "rule": {"all": [
        {"attr": "status", "op": "ne", "value": "cancelled"},
        {"not": {"any": [{"attr": "product.category", "op": "eq", "value": "beach"},
                         {"attr": "amount", "op": "lt", "value": "100"}]}},
    ]}}
    response = api.post("audience-rules/group-counts/", {"definition": definition, "path": "rule.all[1].not"})
    assert response.json() == {"groups": [{"path": "rule.all[1].not.any[0]", "count": 1},
                                          {"path": "rule.all[1].not.any[1]", "count": 0},
                                          {"path": "rule.all[1].not", "count": 1}]}
    response = api.post("audience-rules/group-counts/", {"definition": definition, "path": "rule.all[1]"})
    assert response.json() == {"groups": [{"path": "rule.all[1].not", "count": 1}, {"path": "rule.all[1]", "count": 2}]}
    for path in ("rule.all[0]", "rule.all[7]", "rule.all[1]; DROP TABLE booking", "rules", "rule.where"):
        assert problems(api.post("audience-rules/group-counts/", {"definition": definition, "path": path})) == [
            {"path": path, "message": "is not a group (all, any or not)."}]
    # a problem anywhere in the rule is reported at its path in the whole rule
    definition["rule"]["all"][1]["not"]["any"][1]["value"] = "cheap"
    assert problems(api.post("audience-rules/group-counts/", {"definition": definition, "path": "rule"})) == [
        {"path": "rule.all[1].not.any[1].value", "message": "amount: 'cheap' is not a valid decimal."}]


def test_distribution_of_an_unknown_attribute_is_a_problem(api, travel):
    response = api.post("audience-rules/distribution/", {"definition": {"entity": "booking", "dimension": [
        "customer"]}, "attribute": "amount"})
    assert problems(response) == [{"path": "attribute", "message": "customer has no attribute 'amount'."}]


def test_change_of_dimension_bookings_to_customers_each_once_and_back(api, travel):
    # bookings not cancelled: 1000 and 1001, both Anna's
    to_customers = {"entity": "booking", "rule": {"attr": "status", "op": "ne", "value": "cancelled"},
                    "dimension": ["customer"]}
    assert api.post("audience-rules/count/", {"definition": to_customers}).json()["count"] == 1
    sample = api.post("audience-rules/sample/", {"definition": to_customers}).json()
    assert (sample["entity"], [r["customer_id"] for r in sample["records"]]) == ("customer", [1])
    every_booker = {"entity": "booking", "dimension": ["customer"]}
    assert api.post("audience-rules/count/", {"definition": every_booker}).json()["count"] == 2
    # customers in NL -> their bookings
    to_bookings = {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"},
                   "dimension": ["bookings"]}
    sample = api.post("audience-rules/sample/", {"definition": to_bookings}).json()
    assert (sample["entity"], [r["booking_id"] for r in sample["records"]]) == ("booking", [1000, 1001])
    # a saved audience takes the entity at the end of its path
    audience = created(api, "Bookers", to_customers)
    assert audience["entity"] == "customer"
    # two steps: bookings -> products -> their bookings
    there_and_back = {"entity": "booking", "rule": {"attr": "booking_id", "op": "eq", "value": 1002},
                      "dimension": ["product", "bookings"]}
    sample = api.post("audience-rules/sample/", {"definition": there_and_back}).json()
    assert [r["booking_id"] for r in sample["records"]] == [1000, 1002]


def test_an_audience_used_by_another_keeps_its_entity(workspace, api, travel):
    base = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    created(api, "Not Dutch", {"entity": "customer", "rule": {"not_in_audience": base["id"]}})
    response = api.send("PATCH", f"audiences/{base['id']}/", {"definition": {"entity": "booking"}})
    assert (response.status_code, response.json()) == (
        400, {"definition": ["This audience is used elsewhere: its entity cannot change."]})
    assert Audience.objects.get(pk=base["id"]).entity.key == "customer"


def test_delete_is_refused_with_409_while_another_audience_uses_it(workspace, api, travel):
    base = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    user = created(api, "Not Dutch", {"entity": "customer", "rule": {"all": [
        {"attr": "country", "op": "is_not_empty"}, {"not_in_audience": base["id"]}]}})
    before = database_digest()
    response = api.send("DELETE", f"audiences/{base['id']}/")
    assert response.status_code == 409
    assert response.json() == {"detail": "'Dutch' cannot be deleted: it is used by the audience 'Not Dutch'."}
    assert database_digest() == before
    assert api.send("DELETE", f"audiences/{user['id']}/").status_code == 204
    assert api.send("DELETE", f"audiences/{base['id']}/").status_code == 204


# --- export -------------------------------------------------------------------------------------------

def test_export_streams_csv_with_formula_cells_escaped(workspace, api, travel):
    job = records_batch(workspace=workspace, actor=None, entity=travel["customer"], records=[
        {"customer_id": 4, "first_name": '=HYPERLINK("http://evil.test","x")', "last_name": "-2+3",
         "country": "NL", "city": "@SUM(A1)", "phone": "+31 6 1234 5678"},
        {"customer_id": 5, "first_name": "Eve, \"the\" tester", "last_name": "Plain", "country": "NL", "city": None,
         "phone": None}])
    assert job.status == "done", job.errors
    audience = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    response = api.get(f"audiences/{audience['id']}/export/",
                       attributes="customer_id,first_name,last_name,city,phone,birth_date")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="audience-{audience["id"]}.csv"'
    assert b"".join(response.streaming_content).decode() == (
        "customer_id,first_name,last_name,city,phone,birth_date\n"
        "1,Anna,Jansen,Amsterdam,+31612345678,1985-03-14\n"
        "4,\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")\",'-2+3,'@SUM(A1),+31 6 1234 5678,\n"
        "5,\"Eve, \"\"the\"\" tester\",Plain,,,\n")
    assert AuditEvent.objects.filter(workspace=workspace, verb="audience.exported").count() == 1


def test_export_of_every_attribute_keeps_negative_numbers(workspace, api, travel):
    job = records_batch(workspace=workspace, actor=None, entity=travel["booking"], records=[
        {"booking_id": 1003, "customer_id": 3, "amount": "-75.50", "status": "cancelled"}])
    assert job.status == "done", job.errors
    audience = created(api, "Refunds", {"entity": "booking", "rule": {"attr": "amount", "op": "lt", "value": 0}})
    response = api.get(f"audiences/{audience['id']}/export/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode() == (
        "booking_id,customer_id,product_id,booked_at,start_date,end_date,amount,currency,status\n"
        "1003,3,,,,,-75.50,,cancelled\n")


def test_export_refuses_unknown_attributes_before_the_first_byte(workspace, api, travel):
    audience = created(api, "All", {"entity": "customer"})
    response = api.get(f"audiences/{audience['id']}/export/", attributes='first_name,shoe_size,"x";--')
    assert (response.status_code, response.json()) == (
        400, {"attributes": ["customer has no attribute(s) shoe_size, \"x\";--."]})
    assert not AuditEvent.objects.filter(workspace=workspace, verb="audience.exported").exists()


# --- snapshots ----------------------------------------------------------------------------------------

def test_a_snapshot_is_building_then_frozen_by_the_build(workspace, api, travel, django_capture_on_commit_callbacks):
    source = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"audiences/{source['id']}/snapshot/", {"name": "Dutch in May"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert len(callbacks) == 1  # the build is queued once, after the commit
    assert (body["origin"], body["status"], body["size"], body["source_audience"], body["entity"]) == (
        "snapshot", "building", None, source["id"], "customer")
    # while it builds, it cannot be read
    response = api.post(f"audiences/{body['id']}/count/")
    assert (response.status_code, response.json()) == (
        409, {"detail": "'Dutch in May' is building; it can be used once it is ready."})
    assert api.get(f"audiences/{body['id']}/sample/").status_code == 409
    assert problems(api.post("audience-rules/count/", {"definition": {
        "entity": "customer", "rule": {"in_audience": body["id"]}}})) == [
        {"path": "rule", "message": "audience 'Dutch in May' is building; it can be used once it is ready."}]
    # the worker's job
    built = services.snapshot_build(audience_id=body["id"])
    assert (built.status, built.size) == ("ready", 1)
    assert services.snapshot_build(audience_id=body["id"]) is None  # a redelivered task does nothing
    status = api.client.get(body["url"]).json()
    assert (status["status"], status["size"], status["status_message"]) == ("ready", 1, "")
    # frozen: a new Dutch customer joins the rule audience, not the snapshot
    job = records_batch(workspace=workspace, actor=None, entity=travel["customer"], records=[
        {"customer_id": 7, "first_name": "Daan", "country": "NL"}])
    assert job.status == "done"
    assert api.post(f"audiences/{source['id']}/count/").json()["count"] == 2
    assert api.post(f"audiences/{body['id']}/count/").json()["count"] == 1
    sample = api.get(f"audiences/{body['id']}/sample/").json()
    assert [r["customer_id"] for r in sample["records"]] == [1]
    # and it can be used in rules and exported
    response = api.post("audience-rules/count/", {"definition": {"entity": "customer", "rule": {
        "not_in_audience": body["id"]}}})
    assert response.json()["count"] == 3
    export = api.get(f"audiences/{body['id']}/export/", attributes="customer_id")
    assert b"".join(export.streaming_content) == b"customer_id\n1\n"


@pytest.mark.worker
def test_a_snapshot_is_built_by_a_real_worker(transactional_db, start_worker):
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    make_travel_model(workspace)
    api = Api(workspace)
    source = created(api, "Travellers", NL_OR_DE_WITH_BOOKINGS)
    start_worker()
    response = api.post(f"audiences/{source['id']}/snapshot/", {"name": "Travellers frozen"})
    assert response.status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.client.get(response.json()["url"]).json()
        if status["status"] != "building":
            break
        time.sleep(0.2)
    assert (status["status"], status["size"], status["status_message"]) == ("ready", 2, "")
    sample = api.get(f"audiences/{status['id']}/sample/").json()
    assert [r["customer_id"] for r in sample["records"]] == [1, 2]


def test_a_failed_snapshot_says_why_and_cannot_be_duplicated(workspace, api, travel):
    source = created(api, "Dutch", {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    snapshot = api.post(f"audiences/{source['id']}/snapshot/", {"name": "Frozen"}).json()
    # the model changes under the queued build
    Audience.objects.filter(pk=snapshot["id"]).update(definition={"entity": "customer", "rule": {
        "attr": "nationality", "op": "eq", "value": "NL"}})
    built = services.snapshot_build(audience_id=snapshot["id"])
    assert (built.status, built.status_message) == ("failed", "rule: customer has no attribute 'nationality'.")
    response = api.post(f"audiences/{snapshot['id']}/duplicate/", {})
    assert (response.status_code, response.json()) == (
        400, {"detail": ["'Frozen' is failed: only a ready audience can be duplicated."]})
    assert api.send("DELETE", f"audiences/{snapshot['id']}/").status_code == 204


# --- uploaded lists -----------------------------------------------------------------------------------

def test_upload_keeps_known_keys_and_reports_unmatched_and_invalid_ones(workspace, api, travel):
    response = api.upload({"name": "From the CRM", "entity": "customer"},
                          b"customer_id,note\n1,a\n2,b\n99,c\nabc,d\n\n1,dup\n ,blank\n")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["origin"], body["entity"], body["size"], body["status"]) == ("upload", "customer", 2, "ready")
    assert body["upload_report"] == {
        "uploaded": 5, "matched": 2, "unmatched": 2, "invalid": 1, "duplicates": 1, "column": "customer_id",
        "unmatched_sample": [{"line": 4, "key": "99"}, {"line": 5, "key": "abc"}]}
    sample = api.get(f"audiences/{body['id']}/sample/").json()
    assert [r["customer_id"] for r in sample["records"]] == [1, 2]
    # used in a rule, duplicated with its keys, counted
    response = api.post("audience-rules/count/", {"definition": {"entity": "customer", "rule": {"all": [
        {"in_audience": body["id"]}, {"attr": "country", "op": "eq", "value": "DE"}]}}})
    assert response.json()["count"] == 1
    copy = api.post(f"audiences/{body['id']}/duplicate/", {}).json()
    assert (copy["name"], copy["origin"], copy["size"]) == ("From the CRM (copy)", "upload", 2)
    assert api.post(f"audiences/{copy['id']}/count/").json()["count"] == 2
    # a list has no rule to change
    response = api.send("PATCH", f"audiences/{body['id']}/", {"definition": {"entity": "customer"}})
    assert (response.status_code, response.json()) == (
        400, {"definition": ["An uploaded list or snapshot has no rule to change."]})


def test_upload_with_a_named_column_another_delimiter_and_encoding(api, travel):
    response = api.upload({"name": "Semicolons", "entity": "booking", "column": "Booking nr", "delimiter": ";",
                           "encoding": "latin-1"}, "Gast;Booking nr\nJosé;1000\nRené;1002\n".encode("latin-1"))
    assert response.status_code == 201, response.content
    report = response.json()["upload_report"]
    assert (report["matched"], report["unmatched"], report["column"]) == (2, 0, "Booking nr")


@pytest.mark.parametrize("fields,content,errors", [
    ({"entity": "customer"}, b"id,email\n1,a@b.test\n",
     {"column": ["Name the column holding customer keys; the file has: id, email."]}),
    ({"entity": "store"}, b"customer_id\n1\n", {"entity": ["No entity 'store' in this workspace."]}),
    ({"entity": "customer"}, b"", {"file": ["The submitted file is empty."]}),
    ({"entity": "customer"}, b"customer_id\n1\n\xff\xfe\n", {"file": ["The file is not valid utf-8 text."]}),
    ({"entity": "customer"}, b"customer_id\n1\na\x00b\n", {"file": ["Line 3: a key cannot contain a NUL character."]}),
    ({"entity": "customer", "delimiter": "x"}, b"customer_id\n1\n", {"delimiter": ['"x" is not a valid choice.']}),
    ({"entity": "customer", "encoding": "ebcdic"}, b"customer_id\n1\n",
     {"encoding": ['"ebcdic" is not a valid choice.']}),
])
def test_bad_uploads_are_400_and_create_nothing(workspace, api, travel, fields, content, errors):
    before = database_digest()
    response = api.upload({"name": "Bad", **fields}, content)
    assert (response.status_code, response.json()) == (400, errors)
    assert database_digest() == before


# --- isolation, roles, schema ---------------------------------------------------------------------

def _every_endpoint(audience_id: int) -> list[tuple[str, str, Any]]:
    rule = {"definition": {"entity": "customer"}}
    return [
        ("GET", "audiences/", None), ("POST", "audiences/", {"name": "X", **rule}),
        ("GET", f"audiences/{audience_id}/", None), ("PATCH", f"audiences/{audience_id}/", {"name": "Y"}),
        ("DELETE", f"audiences/{audience_id}/", None), ("POST", f"audiences/{audience_id}/count/", None),
        ("GET", f"audiences/{audience_id}/sample/", None), ("GET", f"audiences/{audience_id}/export/", None),
        ("POST", f"audiences/{audience_id}/snapshot/", {"name": "Z"}),
        ("POST", f"audiences/{audience_id}/duplicate/", {}),
        ("POST", "audience-rules/validate/", rule), ("POST", "audience-rules/count/", rule),
        ("POST", "audience-rules/sample/", rule), ("POST", "audience-rules/sql/", rule),
        ("POST", "audience-rules/distribution/", {**rule, "attribute": "country"}),
        ("POST", "audience-rules/group-counts/", {"definition": {"entity": "customer", "rule": {"all": [
            {"attr": "country", "op": "eq", "value": "NL"}]}}}),
    ]


def test_a_key_of_another_workspace_gets_404_everywhere(workspace, other_workspace, travel):
    make_travel_model(other_workspace)
    audience = services.audience_create(workspace=workspace, actor=None, name="Dutch", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    intruder = Api(other_workspace, role="admin")
    intruder.prefix = f"/api/v1/workspaces/{workspace.slug}/"
    own = Api(other_workspace, role="admin", name="own admin")
    before = database_digest()
    for method, path, body in _every_endpoint(audience.pk):
        response = intruder.send(method, path, body)
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), (method, path)
    response = intruder.upload({"name": "U", "entity": "customer"}, b"customer_id\n1\n")
    assert response.status_code == 404
    # and the victim's audience id under the intruder's own workspace does not exist either
    for method, path, body in _every_endpoint(audience.pk)[2:10]:
        response = own.send(method, path, body)
        assert response.status_code == 404, (method, path)
    assert database_digest() == before


def test_a_viewer_key_reads_and_evaluates_but_gets_403_on_writes_and_exports(workspace, travel):
    audience = services.audience_create(workspace=workspace, actor=None, name="Dutch", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    viewer = Api(workspace, role="viewer")
    reads = [e for e in _every_endpoint(audience.pk) if e[0] == "GET" and not e[1].endswith("export/")]
    reads += [e for e in _every_endpoint(audience.pk) if "audience-rules/" in e[1] or e[1].endswith("count/")]
    for method, path, body in reads:
        response = viewer.send(method, path, body)
        assert response.status_code == 200, (method, path, response.content)
    before = database_digest()
    writes = [e for e in _every_endpoint(audience.pk) if e not in reads]
    assert len(writes) == 6
    for method, path, body in writes:
        response = viewer.send(method, path, body)
        assert (response.status_code, response.json()) == (
            403, {"detail": "This needs the marketer role or higher in this workspace."}), (method, path)
    assert viewer.upload({"name": "U", "entity": "customer"}, b"customer_id\n1\n").status_code == 403
    assert database_digest() == before


def test_the_openapi_schema_describes_every_audience_endpoint(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    expected = {
        "audiences/": {"get", "post"},
        "audiences/upload/": {"post"},
        "audiences/{id}/": {"get", "patch", "delete"},
        "audiences/{id}/count/": {"post"},
        "audiences/{id}/sample/": {"get"},
        "audiences/{id}/export/": {"get"},
        "audiences/{id}/snapshot/": {"post"},
        "audiences/{id}/duplicate/": {"post"},
        "audience-rules/validate/": {"post"},
        "audience-rules/count/": {"post"},
        "audience-rules/sample/": {"post"},
        "audience-rules/distribution/": {"post"},
        "audience-rules/group-counts/": {"post"},
        "audience-rules/sql/": {"post"},
    }
    for path, methods in expected.items():
        assert set(schema["paths"][prefix + path]) == methods, path
    validate = schema["paths"][prefix + "audience-rules/validate/"]["post"]["responses"]
    # the problems, or (input that does not parse) DRF's field errors
    assert validate["400"]["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/Problems"},
        {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"type": "array", "items": {"type": "string"}}]}]}
    upload = schema["paths"][prefix + "audiences/upload/"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    export = schema["paths"][prefix + "audiences/{id}/export/"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["text/csv"]


def test_the_list_costs_the_same_queries_for_2_or_12_audiences(workspace, api, travel,
                                                               django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(2):
        services.audience_create(workspace=workspace, actor=None, name=f"A{n}", definition={"entity": "customer"})
    api.get("audiences/")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert api.get("audiences/").json()["count"] == 2
    # the request's savepoint and its release, the key, the workspace, the count, the page
    assert len(few.captured_queries) == 6
    for n in range(2, 12):
        services.audience_create(workspace=workspace, actor=None, name=f"A{n}", definition={"entity": "booking"})
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get("audiences/").json()["count"] == 12


def test_an_evaluation_that_runs_too_long_is_a_503_that_says_so(workspace, api, travel, monkeypatch):
    from apps.audiences import selectors

    def slow_count(*, definition, **kwargs):
        selectors._run("SELECT pg_sleep(1)", {}, timeout_ms=10, fetch="one")

    monkeypatch.setattr(selectors, "count", slow_count)
    response = api.post("audience-rules/count/", {"definition": {"entity": "customer"}})
    assert (response.status_code, response.json()) == (503, {
        "detail": "The evaluation took longer than 30 s and was stopped; narrow the rule or try again later."})
    # the request's transaction is still usable after the cancelled statement
    assert api.post("audience-rules/validate/", {"definition": {"entity": "customer"}}).status_code == 200
