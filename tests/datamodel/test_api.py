"""The data store API: the model, records, batches and ingestion jobs, as a partner uses
them with a workspace API key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.datamodel.ingestion.services import ingestion_job_run
from apps.datamodel.models import AddressMapping, Attribute, Entity, IngestionJob, Relationship
from apps.datamodel.selectors import records_count
from apps.tenants.models import AuditEvent
from tests.factories import TRAVEL_MODEL, make_api_key, make_travel_model
from tests.isolation.world import database_digest

DEMO_DOC = json.loads((Path(settings.BASE_DIR) / TRAVEL_MODEL).read_text())


class Api:
    """A client with a workspace API key and the workspace's URL prefix."""

    def __init__(self, workspace, role: str = "marketer"):
        _, raw = make_api_key(workspace, role=role, name=f"test {role}")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.prefix = f"/api/v1/workspaces/{workspace.slug}/"

    def url(self, path: str) -> str:
        return self.prefix + path

    def get(self, path: str, **params):
        return self.client.get(self.url(path), params)

    def send(self, method: str, path: str, body: Any = None):
        return self.client.generic(method, self.url(path), json.dumps(body) if body is not None else "",
                                   content_type="application/json")

    def post(self, path: str, body: Any):
        return self.send("POST", path, body)


@pytest.fixture
def api(workspace):
    return Api(workspace)


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)


def records(api: Api, entity: str, **params) -> list[dict]:
    response = api.get(f"entities/{entity}/records/", **params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def keys(api: Api, entity: str, pk: str, *filters: str, **params) -> list:
    return [r[pk] for r in records(api, entity, filter=list(filters), **params)]


def without_times(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("created_at", "updated_at")}


STORE = {
    "key": "store", "label": "Store", "description": "Where bookings are made",
    "primary_key": {"key": "store_id", "type": "text", "label": "Store ID"},
    "attributes": [
        {"key": "city", "type": "text"},
        {"key": "size", "type": "enum", "label": "Size", "enum_values": ["small", "large"]},
        {"key": "opened", "type": "date", "required": True},
    ],
}

STORE_OUT = {
    "key": "store", "label": "Store", "description": "Where bookings are made", "is_profile": False,
    "primary_key": "store_id", "display_attribute": "",
    "attributes": [
        {"key": "store_id", "label": "Store ID", "type": "text", "is_primary_key": True, "required": True,
         "enum_values": [], "position": 0},
        {"key": "city", "label": "City", "type": "text", "is_primary_key": False, "required": False,
         "enum_values": [], "position": 1},
        {"key": "size", "label": "Size", "type": "enum", "is_primary_key": False, "required": False,
         "enum_values": ["small", "large"], "position": 2},
        {"key": "opened", "label": "Opened", "type": "date", "is_primary_key": False, "required": True,
         "enum_values": [], "position": 3},
    ],
}


# --- entities and attributes ---------------------------------------------------------------

def test_entity_and_attribute_crud_round_trip(workspace, api):
    # create, with attributes inline
    response = api.post("entities/", STORE)
    assert response.status_code == 201, response.content
    assert without_times(response.json()) == STORE_OUT
    # list and read
    listing = api.get("entities/").json()
    assert listing["count"] == 1
    assert [without_times(e) for e in listing["results"]] == [STORE_OUT]
    assert without_times(api.get("entities/store/").json()) == STORE_OUT
    # update
    response = api.send("PATCH", "entities/store/", {"label": "Shop", "is_profile": True})
    assert response.status_code == 200
    assert without_times(response.json()) == {**STORE_OUT, "label": "Shop", "is_profile": True}
    # attributes: add, read, change, list
    response = api.post("entities/store/attributes/", {"key": "revenue", "type": "decimal", "label": "Revenue"})
    assert response.status_code == 201, response.content
    revenue = {"key": "revenue", "label": "Revenue", "type": "decimal", "is_primary_key": False, "required": False,
               "enum_values": [], "position": 4}
    assert response.json() == revenue
    assert api.get("entities/store/attributes/revenue/").json() == revenue
    response = api.send("PATCH", "entities/store/attributes/size/", {"enum_values": ["small", "medium", "large"]})
    assert response.status_code == 200, response.content
    assert response.json()["enum_values"] == ["small", "medium", "large"]
    response = api.send("PATCH", "entities/store/attributes/city/", {"type": "integer", "required": True})
    assert response.status_code == 200, response.content
    assert (response.json()["type"], response.json()["required"]) == ("integer", True)
    assert [a["key"] for a in api.get("entities/store/attributes/").json()] == [
        "store_id", "city", "size", "opened", "revenue"]
    # delete an attribute: only with the confirmation
    response = api.send("DELETE", "entities/store/attributes/revenue/")
    assert response.status_code == 400
    assert response.json() == {"detail": ["Type the attribute key 'revenue' to confirm: its values will be deleted."]}
    assert api.send("DELETE", "entities/store/attributes/revenue/?confirm=revenue").status_code == 204
    assert api.get("entities/store/attributes/revenue/").status_code == 404
    # delete the entity: the confirmation as a query parameter or in the body
    response = api.send("DELETE", "entities/store/", {"confirm": "stores"})
    assert response.status_code == 400
    assert Entity.objects.filter(workspace=workspace, key="store").exists()
    assert api.send("DELETE", "entities/store/", {"confirm": "store"}).status_code == 204
    assert api.get("entities/store/").status_code == 404
    assert not Entity.objects.filter(workspace=workspace).exists()
    verbs = list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="datamodel.")
                 .order_by("id").values_list("verb", flat=True))
    assert verbs == ["datamodel.entity_created", "datamodel.entity_updated", "datamodel.attribute_added",
                     "datamodel.attribute_updated", "datamodel.attribute_updated", "datamodel.attribute_deleted",
                     "datamodel.entity_deleted"]


@pytest.mark.parametrize("body,errors", [
    ({**STORE, "key": "Bad-Key"}, {"detail": [
        "Entity key 'Bad-Key' is not valid: use 1-63 lowercase letters, digits and underscores, starting with a "
        "letter (e.g. 'loyalty_tier')."]}),
    ({**STORE, "key": "select"}, {"detail": [
        "Entity key 'select' is a reserved word in SQL; choose another, e.g. 'selects' or 'customer_select'."]}),
    ({**STORE, "attributes": [{"key": "x", "type": "money"}]},
     {"attributes": {"0": {"type": ['"money" is not a valid choice.']}}}),
    ({**STORE, "primary_key": {"key": "id", "type": "date"}}, {"primary_key": {"type": ['"date" is not a valid choice.']}}),
    ({**STORE, "attributes": [{"key": "size", "type": "enum"}]},
     {"detail": ["An enum attribute needs a non-empty list of allowed values."]}),
    ({**STORE, "attributes": [{"key": "city", "type": "text"}, {"key": "city", "type": "text"}]},
     {"detail": ["store: attribute 'city' is defined twice."]}),
    ({"key": "store"}, {"primary_key": ["This field is required."]}),
])
def test_entity_create_refuses_bad_definitions_and_creates_nothing(workspace, api, body, errors):
    response = api.post("entities/", body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not Entity.objects.filter(workspace=workspace).exists()


def test_an_entity_key_that_exists_is_refused(workspace, api):
    assert api.post("entities/", STORE).status_code == 201
    response = api.post("entities/", STORE)
    assert response.status_code == 400
    assert response.json() == {"detail": ["An entity 'store' already exists in this workspace."]}


def test_a_type_change_that_stored_values_do_not_fit_is_refused_and_changes_nothing(workspace, api, travel):
    response = api.send("PATCH", "entities/customer/attributes/city/", {"type": "integer"})
    assert response.status_code == 400
    assert Attribute.objects.get(entity=travel["customer"], key="city").type == "text"
    assert [r["city"] for r in records(api, "customer")] == ["Amsterdam", "Berlin", "Paris"]


# --- relationships -------------------------------------------------------------------------

def test_relationship_crud_round_trip(workspace, api, travel):
    assert api.post("entities/", STORE).status_code == 201
    assert api.post("entities/customer/attributes/", {"key": "home_store", "type": "text"}).status_code == 201
    body = {"source": "customer", "attribute": "home_store", "target": "store", "key": "store",
            "reverse_key": "customers", "kind": "many_to_one", "reverse_label": "Regulars"}
    response = api.post("relationships/", body)
    assert response.status_code == 201, response.content
    created = response.json()
    rel = Relationship.objects.get(workspace=workspace, key="store")
    assert {k: v for k, v in created.items() if k != "created_at"} == {
        "id": rel.pk, "source": "customer", "attribute": "home_store", "target": "store", "key": "store",
        "reverse_key": "customers", "kind": "many_to_one", "label": "Store", "reverse_label": "Regulars"}
    assert api.get(f"relationships/{rel.pk}/").json() == created
    listing = api.get("relationships/").json()
    assert [(r["source"], r["key"], r["target"]) for r in listing["results"]] == [
        ("booking", "customer", "customer"), ("booking", "product", "product"), ("customer", "store", "store")]
    # errors name the field or the reason
    response = api.post("relationships/", {**body, "target": "shop"})
    assert response.status_code == 400
    assert response.json() == {"target": ["No entity 'shop' in this workspace."]}
    response = api.post("relationships/", {**body, "key": "home", "reverse_key": "locals"})
    assert response.status_code == 400
    assert response.json() == {"detail": ["customer.home_store already holds a link."]}
    response = api.post("relationships/", {**body, "attribute": "customer_id", "key": "shop", "reverse_key": "x"})
    assert response.json() == {"detail": [
        "customer.customer_id is integer but store.store_id is text: the link column must have the type of the "
        "target's primary key."]}
    # delete: the link goes, the attribute stays
    assert api.send("DELETE", f"relationships/{rel.pk}/").status_code == 204
    assert api.get(f"relationships/{rel.pk}/").status_code == 404
    assert Attribute.objects.filter(entity=travel["customer"], key="home_store").exists()


# --- the model document -----------------------------------------------------------------

def _semantic(doc: dict) -> dict:
    """What a model document means, defaults made explicit (labels of links are derived)."""
    def attribute(a):
        return {"key": a["key"], "type": a["type"], "label": a.get("label"), "required": a.get("required", False),
                "enum_values": a.get("enum_values", [])}

    return {
        "entities": [{"key": e["key"], "label": e.get("label"), "profile": e.get("profile", False),
                      "primary_key": {k: e["primary_key"][k] for k in ("key", "type", "label")},
                      "attributes": [attribute(a) for a in e.get("attributes", [])]} for e in doc["entities"]],
        "relationships": [{k: r[k] for k in ("source", "attribute", "target", "key", "reverse_key", "kind")}
                          for r in doc["relationships"]],
        "addresses": doc.get("addresses", {}),
    }


def test_model_import_of_the_demo_document_then_export_gives_it_back(workspace, api):
    response = api.post("model/", DEMO_DOC)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == {"entities": 3, "attributes": 28, "relationships": 2}
    assert _semantic(body["model"]) == _semantic(DEMO_DOC)
    exported = api.get("model/").json()
    assert exported == body["model"]
    assert _semantic(exported) == _semantic(DEMO_DOC)
    # the export imports into another workspace as the same model
    other = Api(travel_twin := _another_workspace(workspace))
    assert other.post("model/", exported).status_code == 200
    assert _semantic(other.get("model/").json()) == _semantic(DEMO_DOC)
    assert Entity.objects.filter(workspace=travel_twin).count() == 3
    # importing again adds nothing
    again = api.post("model/", DEMO_DOC)
    assert again.status_code == 200
    assert again.json()["created"] == {"entities": 0, "attributes": 0, "relationships": 0}


def _another_workspace(workspace):
    from tests.factories import WorkspaceFactory

    return WorkspaceFactory(organization=workspace.organization, name="Second", slug="second")


ENTITY = {"key": "a", "primary_key": {"key": "id", "type": "integer"}}


@pytest.mark.parametrize("doc,message", [
    ({"entities": [ENTITY, {"key": "booking", "primary_key": {"key": "booking_id", "type": "money"}}]},
     "entities[1] (booking): booking.booking_id: type 'money' is not one of boolean, date, datetime, decimal, "
     "email, enum, integer, phone, text."),
    ({"entities": [ENTITY, {"key": "b", "primary_key": {"key": "id", "type": "text"},
                            "attributes": [{"key": "tier", "type": "enum", "enum_values": []}]}]},
     "entities[1] (b): An enum attribute needs a non-empty list of allowed values."),
    ({"entities": [{**ENTITY, "attributes": "name"}]}, "entities[0] (a): 'attributes' must be a list."),
    ({"entities": [{**ENTITY, "attributes": [{"key": "x", "type": "text", "label": 5}]}]},
     "entities[0] (a).attributes[0]: 'label' must be text."),
    ({"entities": [ENTITY, ["b"]]}, "entities[1]: must be an object."),
    ({"entities": [{"label": "No key"}]}, "entities[0]: each entity needs a 'key'."),
    ({"entities": [ENTITY], "relationships": [{"source": "a", "attribute": "id", "target": "nope", "key": "n",
                                               "reverse_key": "as"}]},
     "relationships[0]: unknown entity 'nope'."),
    ({"entities": [ENTITY], "addresses": {"pager": "id"}},
     "addresses: Mark one entity as the profile dimension first."),
    ({"entities": [{**ENTITY, "profile": True}], "addresses": {"pager": "id"}},
     "addresses: 'pager' is not an address role (email, phone, first_name, last_name, full_name, address_line1, "
     "address_line2, postal_code, city, region, country, language, timezone)."),
    ({"tables": []}, "Unknown top-level field(s): tables."),
    (["not", "an", "object"], "The model document must be a JSON object with 'entities' (and 'relationships')."),
])
def test_a_bad_model_document_is_a_400_naming_the_place_and_nothing_is_created(workspace, api, doc, message):
    response = api.post("model/", doc)
    assert response.status_code == 400
    assert response.json() == {"detail": [message]}
    assert not Entity.objects.filter(workspace=workspace).exists()


def test_addresses_read_and_replace(workspace, api, travel):
    response = api.get("addresses/")
    assert response.json() == {"profile": "customer", "addresses": dict(sorted(DEMO_DOC["addresses"].items()))}
    response = api.send("PUT", "addresses/", {"addresses": {"email": "email", "phone": "phone", "city": None}})
    assert response.status_code == 200, response.content
    assert response.json() == {"profile": "customer", "addresses": {"email": "email", "phone": "phone"}}
    # a bad mapping changes nothing
    response = api.send("PUT", "addresses/", {"addresses": {"email": "shoe_size"}})
    assert response.status_code == 400
    assert response.json() == {"detail": ["The profile dimension customer has no attribute 'shoe_size'."]}
    assert sorted(AddressMapping.objects.filter(workspace=workspace).values_list("role", flat=True)) == [
        "email", "phone"]


# --- records: read -------------------------------------------------------------------------

def test_a_record_by_key_with_json_values(api, travel):
    assert api.get("entities/customer/records/1/").json() == {
        "customer_id": 1, "email": "anna@example.test", "phone": "+31612345678", "first_name": "Anna",
        "last_name": "Jansen", "country": "NL", "city": "Amsterdam", "postal_code": None, "street": None,
        "language": "nl", "birth_date": "1985-03-14", "loyalty_tier": "gold", "timezone": None,
        "created_at": "2024-01-05T10:00:00+00:00",
        "_updated_at": api.get("entities/customer/records/1/").json()["_updated_at"]}
    booking = api.get("entities/booking/records/1001/").json()
    assert (booking["amount"], booking["start_date"]) == ("640.50", "2024-08-01")
    for missing in ("999", "abc", "1.5", "99999999999999999999999"):
        response = api.get(f"entities/customer/records/{missing}/")
        assert response.status_code == 404, missing
        assert response.json() == {"detail": "Not found."}
    assert api.get("entities/nope/records/1/").status_code == 404


def test_delete_a_record_by_key(workspace, api, travel):
    assert api.send("DELETE", "entities/customer/records/3/").status_code == 204
    assert api.get("entities/customer/records/3/").status_code == 404
    assert api.send("DELETE", "entities/customer/records/3/").status_code == 404
    assert api.send("DELETE", "entities/customer/records/abc/").status_code == 404
    assert keys(api, "customer", "customer_id") == [1, 2]
    assert AuditEvent.objects.filter(workspace=workspace, verb="datamodel.record_deleted").count() == 1


@pytest.mark.parametrize("filters,expected", [
    (["country:eq:NL"], [1]),
    (["country:ne:NL"], [2, 3]),
    (["birth_date:lt:1990-07-01"], [1]),
    (["birth_date:lte:1990-07-01"], [1, 2]),
    (["birth_date:gt:1985-03-14"], [2]),
    (["birth_date:gte:1985-03-14"], [1, 2]),
    (["email:contains:EN@example"], [2]),
    (["email:contains:%"], []),
    (["first_name:startswith:ch"], [3]),
    (["country:in:NL,FR"], [1, 3]),
    (["customer_id:in:1,3,7"], [1, 3]),
    (["birth_date:isnull"], [3]),
    (["phone:notnull"], [1, 3]),
    (["created_at:gte:2024-02-10T09:30:00Z"], [2, 3]),
    (["created_at:lt:2024-02-10 10:30"], [1]),  # naive: in the workspace's time zone (UTC+1)
    (["created_at:lt:2024-02-10 10:31"], [1, 2]),
    (["loyalty_tier:ne:none", "country:ne:DE"], [1]),
])
def test_record_filters_of_each_operator(api, travel, filters, expected):
    assert keys(api, "customer", "customer_id", *filters) == expected


def test_filters_on_decimals_and_decimals_as_strings(api, travel):
    rows = records(api, "booking", filter=["amount:gte:1000"], sort="amount", order="desc")
    assert [(r["booking_id"], r["amount"]) for r in rows] == [(1002, "1250.00"), (1000, "1250.00")]
    assert keys(api, "product", "product_id", "price:lt:700.5") == [101]


def _items(workspace, api) -> list[tuple[int, int | None]]:
    """57 items whose score repeats (0..4) and is empty for every 7th."""
    api.post("entities/", {"key": "item", "primary_key": {"key": "id", "type": "integer"},
                           "attributes": [{"key": "score", "type": "integer"}]})
    rows = [(i, None if i % 7 == 0 else (i * 3) % 5) for i in range(1, 58)]
    response = api.post("entities/item/records/batch/", {"records": [{"id": i, "score": s} for i, s in rows]})
    assert response.json()["inserted"] == 57
    return rows


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_cursor_pagination_walks_every_record_once_sorted_on_a_non_unique_attribute_with_nulls(
        workspace, api, order):
    rows = _items(workspace, api)
    seen, pages = [], 0
    url = api.url("entities/item/records/") + f"?sort=score&order={order}&limit=10"
    while url:
        body = api.client.get(url).json()
        seen.extend((r["id"], r["score"]) for r in body["results"])
        pages += 1
        url = body["next"]
        assert (url is None) == (body["next_cursor"] is None)
    valued = sorted((r for r in rows if r[1] is not None), key=lambda r: (r[1], r[0]), reverse=order == "desc")
    empty = sorted((r for r in rows if r[1] is None), key=lambda r: r[0], reverse=order == "desc")
    assert seen == valued + empty  # empty values last either way, ties by key
    assert pages == 6


def test_pagination_with_a_filter_and_the_next_url(workspace, api):
    _items(workspace, api)
    first = api.get("entities/item/records/", filter="score:gte:3", sort="score", limit=5).json()
    assert first["next"].startswith("http://testserver/api/v1/workspaces/northwind/entities/item/records/?")
    assert "filter=score%3Agte%3A3" in first["next"]
    ids = [r["id"] for r in first["results"]]
    url = first["next"]
    while url:
        page = api.client.get(url).json()
        ids.extend(r["id"] for r in page["results"])
        url = page["next"]
    assert sorted(ids) == [i for i in range(1, 58) if i % 7 and (i * 3) % 5 >= 3]
    assert len(ids) == len(set(ids))


def test_the_record_list_costs_a_fixed_number_of_queries(workspace, api, django_assert_num_queries):
    _items(workspace, api)
    api.get("entities/item/records/", limit=5)  # the key's last use is written at most once a minute
    # key, workspace, entity, attributes, the page; and the request's savepoint and release
    with django_assert_num_queries(7):
        response = api.get("entities/item/records/", sort="score", limit=20, filter="score:notnull")
    assert len(response.json()["results"]) == 20
    with django_assert_num_queries(7):
        response = api.client.get(response.json()["next"])
    assert len(response.json()["results"]) == 20


@pytest.mark.parametrize("params,errors", [
    ({"filter": "country"}, {"filter": ["'country' is not attribute:operator:value (e.g. country:eq:NL, phone:isnull)."]}),
    ({"filter": "country:like:N%"}, {"detail": [
        "Unknown filter operator 'like': use one of contains, eq, gt, gte, in, isnull, lt, lte, ne, notnull, "
        "startswith."]}),
    ({"filter": "shoe_size:eq:42"}, {"detail": ["Unknown attribute 'shoe_size' in a filter."]}),
    ({"filter": "birth_date:gt:yesterday"}, {"detail": ["birth_date: 'yesterday' is not a valid date."]}),
    ({"filter": "customer_id:in:1,two"}, {"detail": ["customer_id: 'two' is not a valid integer."]}),
    ({"sort": "shoe_size"}, {"detail": ["Unknown attribute 'shoe_size' to sort by."]}),
    ({"order": "sideways"}, {"order": ['"sideways" is not a valid choice.']}),
    ({"limit": "0"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
    ({"limit": "501"}, {"limit": ["Ensure this value is less than or equal to 500."]}),
    ({"cursor": "bm90IGEgY3Vyc29y"}, {"detail": ["The cursor is not valid; start again from the first page."]}),
])
def test_bad_record_list_parameters_are_400_with_the_reason(api, travel, params, errors):
    response = api.get("entities/customer/records/", **params)
    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize("filters,code", [
    (["amount:gt:1e999999"], 400),
    (["amount:in:1e99999999,2"], 400),
    (["amount:eq:" + "9" * 200_000], 400),
    (["booking_id:eq:" + "9" * 5_000], 400),
    (["amount:gt:1e131071"], 200),
    (["amount:gt:NaN"], 200),
    (["booked_at:gt:9999-12-31T23:59:59+14:00"], 200),
    (["booking_id:gt:-99999999999999999999999999999"], 200),
])
def test_values_out_of_the_database_range_are_a_400_not_a_database_error(api, travel, filters, code):
    response = api.get("entities/booking/records/", filter=filters)
    assert response.status_code == code
    assert len(response.content) < 2000


# --- records: batches ----------------------------------------------------------------------

def _report(response) -> dict:
    body = response.json()
    return {k: v for k, v in body.items() if k != "job"}


def test_batch_upserts_and_deletes_with_change_types_last_record_wins(workspace, api, travel):
    batch = [
        {"customer_id": 4, "email": "dora@example.test", "country": "NL"},
        {"customer_id": 1, "email": "anna@example.test", "country": "BE", "_change": "upsert"},
        {"customer_id": 2, "email": "ben@example.test", "country": "DE"},
        {"customer_id": 4, "email": "dora@new.example.test", "country": "NL", "_change": "u"},
        {"customer_id": 3, "_change": "delete"},
    ]
    response = api.post("entities/customer/records/batch/", {"records": batch})
    assert response.status_code == 200, response.content
    assert _report(response) == {
        "status": "done", "rows_seen": 5, "inserted": 1, "updated": 1, "unchanged": 1, "deleted": 1,
        "rejected": 0, "orphans": 0, "duplicates": 1, "error_count": 0, "errors": [], "message": ""}
    job = IngestionJob.objects.get(pk=response.json()["job"])
    assert (job.workspace_id, job.source, job.status) == (workspace.pk, "json", "done")
    rows = {r["customer_id"]: r for r in records(api, "customer")}
    assert sorted(rows) == [1, 2, 4]
    # attributes a batch leaves out keep their values
    assert (rows[1]["country"], rows[1]["first_name"], rows[1]["city"]) == ("BE", "Anna", "Amsterdam")
    assert (rows[4]["email"], rows[4]["first_name"]) == ("dora@new.example.test", None)


def test_a_batch_of_deletes_needs_only_the_keys(api, travel):
    # product.name is required: a delete does not need it
    response = api.post("entities/product/records/batch/", {"records": [
        {"product_id": 101, "_change": "delete"}, {"product_id": 555, "_change": "d"}]})
    assert response.status_code == 200, response.content
    assert (response.json()["deleted"], response.json()["rows_seen"]) == (1, 2)
    response = api.post("entities/product/records/batch/", {"records": [
        {"product_id": 102, "name": "Kenya safari", "category": "safari"},
        {"product_id": 100, "name": None, "category": None, "_change": "delete"}]})
    assert response.status_code == 200, response.content
    assert (response.json()["inserted"], response.json()["deleted"]) == (1, 1)
    assert keys(api, "product", "product_id") == [102]


BAD_BATCH = [
    {"customer_id": 5, "birth_date": "1990-02-30", "loyalty_tier": "diamond"},
    {"customer_id": "x", "birth_date": "1990-01-01", "loyalty_tier": "gold"},
    {"customer_id": 6, "birth_date": "1991-01-01", "loyalty_tier": "gold"},
    {"customer_id": 7, "birth_date": "1991-01-01"},
    "not an object",
    {"customer_id": 8, "birth_date": "1992-01-01", "loyalty_tier": "silver", "_change": "merge"},
]
BAD_BATCH_ERRORS = [
    {"record": 0, "column": "birth_date", "value": "1990-02-30",
     "reason": "not a date (YYYY-MM-DD, or choose the column's date format)"},
    {"record": 0, "column": "loyalty_tier", "value": "diamond",
     "reason": "not one of the allowed values (none, silver, gold, platinum)"},
    {"record": 1, "column": "customer_id", "value": "x", "reason": "not a whole number"},
    {"record": 3, "column": "", "value": None,
     "reason": "all upserts of a batch must have the same keys as the first (missing loyalty_tier)"},
    {"record": 4, "column": "", "value": None, "reason": "each record must be an object"},
    {"record": 5, "column": "_change", "value": "merge", "reason": "unknown change type: use upsert (u) or delete (d)"},
]


def test_a_batch_with_bad_records_is_rejected_whole_with_the_errors_per_record(workspace, api, travel):
    before = database_digest()
    response = api.post("entities/customer/records/batch/", {"records": BAD_BATCH})
    assert response.status_code == 400
    assert _report(response) == {
        "status": "rejected", "rows_seen": 6, "inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0,
        "rejected": 5, "orphans": 0, "duplicates": 0, "error_count": 6, "errors": BAD_BATCH_ERRORS,
        "message": "5 bad row(s): the file was rejected and nothing was written."}
    assert keys(api, "customer", "customer_id") == [1, 2, 3]
    # only the job that records the attempt (and its audit) was written
    after = database_digest()
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed == {"public.datamodel_ingestionjob"}


def test_a_batch_in_skip_mode_loads_the_good_records(api, travel):
    response = api.post("entities/customer/records/batch/", {"records": BAD_BATCH, "mode": "skip", "max_errors": 5})
    assert response.status_code == 200
    report = _report(response)
    assert (report["status"], report["inserted"], report["rejected"], report["errors"], report["message"]) == (
        "done", 1, 5, BAD_BATCH_ERRORS, "5 bad row(s) skipped.")
    assert keys(api, "customer", "customer_id") == [1, 2, 3, 6]
    # past the limit, nothing
    response = api.post("entities/customer/records/batch/", {"records": BAD_BATCH, "mode": "skip", "max_errors": 4})
    assert response.status_code == 400
    assert response.json()["message"] == ("5 bad rows exceed the limit of 4: the file was rejected and nothing "
                                          "was written.")


@pytest.mark.parametrize("body,errors", [
    ({"records": []}, {"records": ["This list may not be empty."]}),
    ({"records": {"customer_id": 1}}, {"records": ['Expected a list of items but got type "dict".']}),
    ({"records": [{"customer_id": 1}], "mode": "lenient"}, {"mode": ['"lenient" is not a valid choice.']}),
    ({"records": [{"customer_id": 1}], "max_errors": -1},
     {"max_errors": ["Ensure this value is greater than or equal to 0."]}),
])
def test_a_malformed_batch_request_is_a_400(api, travel, body, errors):
    response = api.post("entities/customer/records/batch/", body)
    assert response.status_code == 400
    assert response.json() == errors


def test_a_batch_with_an_unknown_attribute_is_rejected_as_a_whole(api, travel):
    response = api.post("entities/customer/records/batch/", {"records": [{"customer_id": 9, "shoe_size": 42}]})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [{"record": None, "column": "shoe_size", "value": "",
                               "reason": "Unknown column 'shoe_size': customer has no such attribute; map it to "
                                         "one or ignore it."}]
    assert body["status"] == "rejected"
    assert keys(api, "customer", "customer_id") == [1, 2, 3]


# --- ingestion jobs ------------------------------------------------------------------------

CUSTOMERS_CSV = (
    b"customer_id;E-mail;birth_date;loyalty_tier;ignored\n"
    b"10;zoe@example.test;31/12/1980;gold;x\n"
    b"11;yann@example.test;31/02/1981;gold;x\n"
    b"12;xavi@example.test;01/06/1982;silver;x\n"
)


def _upload(api: Api, content: bytes = CUSTOMERS_CSV, **fields):
    form = {"entity": "customer", "file": SimpleUploadedFile("customers.csv", content, content_type="text/csv"),
            **fields}
    return api.client.post(api.url("ingestion-jobs/"), form)


def test_upload_then_run_then_status_report_and_rejected_rows(workspace, api, travel,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(api, mode="skip", max_errors="5", delimiter=";",
                           mapping=json.dumps({"E-mail": "email", "ignored": None}),
                           date_formats=json.dumps({"birth_date": "DD/MM/YYYY"}))
    assert response.status_code == 202, response.content
    job = response.json()
    assert len(callbacks) == 1  # the load is queued once the request commits
    status_url = f"http://testserver/api/v1/workspaces/northwind/ingestion-jobs/{job['id']}/"
    assert response["Location"] == job["url"] == status_url
    assert {k: job[k] for k in ("entity", "source", "status", "mode", "max_errors", "original_name", "size_bytes",
                                "options", "progress", "rows_seen", "rejected_rows_url")} == {
        "entity": "customer", "source": "csv", "status": "queued", "mode": "skip", "max_errors": 5,
        "original_name": "customers.csv", "size_bytes": len(CUSTOMERS_CSV),
        "options": {"delimiter": ";", "encoding": "utf-8", "mapping": {"E-mail": "email", "ignored": None},
                    "date_formats": {"birth_date": "DD/MM/YYYY"}},
        "progress": {"phase": "queued", "bytes": 0, "percent": 0}, "rows_seen": 0, "rejected_rows_url": None}
    # when the worker runs it
    ingestion_job_run(job_id=job["id"])
    # then
    done = api.client.get(status_url).json()
    assert {k: done[k] for k in ("status", "progress", "rows_seen", "inserted", "updated", "rejected", "errors",
                                 "error_count", "message")} == {
        "status": "done", "progress": {"phase": "done", "bytes": len(CUSTOMERS_CSV), "percent": 100},
        "rows_seen": 3, "inserted": 2, "updated": 0, "rejected": 1, "error_count": 1,
        "errors": [{"line": 3, "column": "birth_date", "value": "31/02/1981",
                    "reason": "not a date in the format DD/MM/YYYY"}],
        "message": "1 bad row(s) skipped."}
    assert done["finished_at"] is not None
    assert [r["birth_date"] for r in records(api, "customer", filter="customer_id:gte:10")] == [
        "1980-12-31", "1982-06-01"]
    csv_response = api.client.get(done["rejected_rows_url"])
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"] == "text/csv"
    assert b"".join(csv_response.streaming_content).decode() == (
        "line,errors,customer_id,E-mail,birth_date,loyalty_tier,ignored\r\n"
        "3,birth_date: not a date in the format DD/MM/YYYY,11,yann@example.test,31/02/1981,gold,x\r\n")
    listing = api.get("ingestion-jobs/", entity="customer").json()
    assert [j["id"] for j in listing["results"]][0] == job["id"]
    assert api.get("ingestion-jobs/", entity="booking").json()["results"] == [
        j for j in api.get("ingestion-jobs/").json()["results"] if j["entity"] == "booking"]


def test_a_rejected_upload_writes_nothing_and_a_clean_one_has_no_rejected_rows(api, travel):
    response = _upload(api, delimiter=";", mapping=json.dumps({"E-mail": "email", "ignored": ""}),
                       date_formats=json.dumps({"birth_date": "DD/MM/YYYY"}))
    ingestion_job_run(job_id=response.json()["id"])
    job = api.client.get(response.json()["url"]).json()
    assert (job["status"], job["inserted"], job["rejected"]) == ("rejected", 0, 1)
    assert keys(api, "customer", "customer_id") == [1, 2, 3]
    assert api.client.get(job["rejected_rows_url"]).status_code == 200
    clean = _upload(api, b"product_id,name\n200,Fjords\n", entity="product")
    ingestion_job_run(job_id=clean.json()["id"])
    job = api.client.get(clean.json()["url"]).json()
    assert (job["status"], job["inserted"], job["rejected_rows_url"]) == ("done", 1, None)
    response = api.get(f"ingestion-jobs/{job['id']}/rejected-rows/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_file_with_a_bad_header_is_rejected_with_the_reason(api, travel):
    response = _upload(api, b"customer_id,shoe_size\n1,42\n")
    ingestion_job_run(job_id=response.json()["id"])
    job = api.client.get(response.json()["url"]).json()
    assert job["status"] == "rejected"
    assert job["errors"] == [{"line": 1, "column": "shoe_size", "value": "",
                              "reason": "Unknown column 'shoe_size': customer has no such attribute; map it to one "
                                        "or ignore it."}]


@pytest.mark.parametrize("fields,errors", [
    ({"entity": "shoe"}, {"entity": ["No entity 'shoe' in this workspace."]}),
    ({"mapping": "{not json"}, {"mapping": ["Value must be valid JSON."]}),
    ({"mapping": json.dumps(["email"])}, {"mapping": ["Send a JSON object of text values."]}),
    ({"mode": "lenient"}, {"mode": ['"lenient" is not a valid choice.']}),
    ({"file": ""}, {"file": ["The submitted data was not a file. Check the encoding type on the form."]}),
])
def test_bad_uploads_are_400_and_queue_nothing(api, travel, fields, errors):
    response = _upload(api, **fields)
    assert response.status_code == 400
    assert response.json() == errors
    assert not IngestionJob.objects.filter(source="csv").exists()


def test_an_upload_must_be_multipart(api, travel):
    response = api.post("ingestion-jobs/", {"entity": "customer"})
    assert response.status_code == 415


@pytest.mark.worker
def test_an_uploaded_file_is_loaded_by_a_real_worker(transactional_db, start_worker):
    import time

    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    make_travel_model(workspace, rows=False)
    api = Api(workspace)
    start_worker()
    response = _upload(api, b"customer_id,email,country\n21,una@example.test,IE\n22,vic@example.test,ES\n")
    assert response.status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.client.get(response.json()["url"]).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert (job["status"], job["inserted"]) == ("done", 2)
    assert keys(api, "customer", "customer_id") == [21, 22]


# --- isolation and roles -------------------------------------------------------------------

def test_a_key_of_another_workspace_gets_404_everywhere(workspace, other_workspace, travel):
    make_travel_model(other_workspace)
    intruder = Api(other_workspace, role="admin")
    intruder.prefix = f"/api/v1/workspaces/{workspace.slug}/"
    job = IngestionJob.objects.create(workspace=workspace, entity=travel["customer"], status="done")
    rel = Relationship.objects.filter(workspace=workspace).first()
    own = Api(other_workspace, role="marketer")
    before = database_digest()
    for method, path, body in [
        ("GET", "entities/", None), ("POST", "entities/", STORE), ("GET", "entities/customer/", None),
        ("DELETE", "entities/customer/?confirm=customer", None), ("GET", "entities/customer/records/", None),
        ("GET", "entities/customer/records/1/", None), ("DELETE", "entities/customer/records/1/", None),
        ("POST", "entities/customer/records/batch/", {"records": [{"customer_id": 1, "_change": "delete"}]}),
        ("GET", "model/", None), ("POST", "model/", DEMO_DOC), ("PUT", "addresses/", {"addresses": {}}),
        ("GET", f"relationships/{rel.pk}/", None), ("DELETE", f"relationships/{rel.pk}/", None),
        ("GET", f"ingestion-jobs/{job.pk}/", None), ("GET", "ingestion-jobs/", None),
    ]:
        response = intruder.send(method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json() == {"detail": "Not found."}
    # and its own workspace's ids are not reachable under its own slug by the victim's ids either
    assert own.get(f"relationships/{rel.pk}/").status_code == 404
    assert own.get(f"ingestion-jobs/{job.pk}/").status_code == 404
    assert database_digest() == before


def test_a_viewer_key_reads_but_gets_403_on_every_write(workspace, travel):
    viewer = Api(workspace, role="viewer")
    assert viewer.get("entities/customer/records/1/").status_code == 200
    before = database_digest()
    for method, path, body in [
        ("POST", "entities/", STORE), ("PATCH", "entities/customer/", {"label": "People"}),
        ("DELETE", "entities/customer/?confirm=customer", None),
        ("POST", "entities/customer/attributes/", {"key": "x", "type": "text"}),
        ("DELETE", "entities/customer/attributes/city/?confirm=city", None),
        ("DELETE", "entities/customer/records/1/", None),
        ("POST", "entities/customer/records/batch/", {"records": [{"customer_id": 1, "_change": "delete"}]}),
        ("POST", "model/", DEMO_DOC), ("PUT", "addresses/", {"addresses": {}}),
        ("POST", "relationships/", {"source": "booking"}),
    ]:
        response = viewer.send(method, path, body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json() == {"detail": "This needs the marketer role or higher in this workspace."}
    response = _upload(viewer)
    assert response.status_code == 403
    assert database_digest() == before


# --- hostile input ---------------------------------------------------------------------------

def test_injection_attempts_are_refused_and_change_nothing(workspace, api, travel):
    assert api.post("entities/", STORE).status_code == 201  # a text primary key
    before = database_digest()
    checks = [
        ({"filter": 'country" = country OR "country:eq:NL'}, 400),
        ({"filter": "country:eq:NL' OR '1'='1"}, 200),
        ({"filter": "country:eq:NL; DROP TABLE customer; --"}, 200),
        ({"filter": "country:in:XX,DE') OR (1=1"}, 200),
        ({"filter": "customer_id:eq:1 OR 1=1"}, 400),
        ({"filter": "country:contains:%' --"}, 200),
        ({"filter": "country:eq:\x00"}, 400),
        ({"filter": "email:contains:a\x00b"}, 400),
        ({"filter": "customer_id:eq:99999999999999999999999999"}, 200),
        ({"filter": "customer_id:in:7,99999999999999999999999999"}, 200),
        ({"sort": "customer_id; DROP TABLE customer"}, 400),
        ({"sort": '"customer_id"'}, 400),
        ({"sort": "country", "order": "desc; DROP TABLE customer"}, 400),
        ({"cursor": "WyInKSBPUiAxPTEgLS0iLCAxXQ=="}, 400),  # ["') OR 1=1 --", 1] as a cursor
    ]
    for params, code in checks:
        response = api.get("entities/customer/records/", **params)
        assert response.status_code == code, (params, response.content[:300])
        if code == 200:
            assert response.json()["results"] == [], params
    for path in ("entities/customer;drop/records/", "entities/customer%00/records/", "entities/pg_class/records/",
                 "entities/..%2F..%2Fcustomer/records/", "entities/customer/records/1%20OR%201=1/",
                 "entities/customer/records/%00/", "entities/Customer/"):
        response = api.get(path)
        assert response.status_code == 404, (path, response.status_code)
    for path in ("entities/customer/records/1' OR '1'='1/", "entities/customer/records/%00/"):
        assert api.send("DELETE", path).status_code == 404
    # NUL, which PostgreSQL text cannot hold, is refused before it reaches the database
    assert api.get("entities/store/records/a%00b/").status_code == 404
    assert api.send("DELETE", "entities/store/records/a%00b/").status_code == 404
    response = api.post("entities/customer/records/batch/", {"records": [{"customer_id": 1, "country": "N\x00L"}]})
    assert response.json()["errors"] == [
        {"record": 0, "column": "", "value": None, "reason": "country: a value cannot contain a NUL character"}]
    response = api.post("entities/customer/records/batch/", {"records": [{"customer_id": 1, "coun\x00try": "NL"}]})
    assert response.json()["errors"] == [
        {"record": None, "column": "", "value": None, "reason": "A key cannot contain a NUL character."}]
    response = api.post("model/", {"entities": [{"key": "a", "label": "\x00", "primary_key": ENTITY["primary_key"]}]})
    assert response.json() == {"detail": ["The document contains a NUL character."]}
    response = api.post("entities/", {**STORE, "key": 'store"; DROP TABLE x; --'})
    assert response.status_code == 400
    response = api.post("entities/customer/records/batch/", {"records": [
        {"customer_id": 1, "country": "NL'); DROP TABLE customer; --"}], "mode": "reject"})
    assert response.status_code == 200  # a value is a value: stored as typed
    assert records_count(entity=travel["customer"], filters=[("country", "eq", "NL'); DROP TABLE customer; --")]) == 1
    after = database_digest()
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed == {f"ws_{workspace.pk}.customer", "public.datamodel_ingestionjob"}


# --- the schema -----------------------------------------------------------------------------

def test_the_openapi_schema_describes_every_data_endpoint(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    expected = {
        "entities/": {"get", "post"},
        "entities/{entity_key}/": {"get", "patch", "delete"},
        "entities/{entity_key}/attributes/": {"get", "post"},
        "entities/{entity_key}/attributes/{attribute_key}/": {"get", "patch", "delete"},
        "relationships/": {"get", "post"},
        "relationships/{id}/": {"get", "delete"},
        "model/": {"get", "post"},
        "addresses/": {"get", "put"},
        "entities/{entity_key}/records/": {"get"},
        "entities/{entity_key}/records/batch/": {"post"},
        "entities/{entity_key}/records/{record_key}/": {"get", "delete"},
        "ingestion-jobs/": {"get", "post"},
        "ingestion-jobs/{id}/": {"get"},
        "ingestion-jobs/{id}/rejected-rows/": {"get"},
    }
    for path, methods in expected.items():
        assert set(schema["paths"][prefix + path]) == methods, path
    upload = schema["paths"][prefix + "ingestion-jobs/"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    listing = {p["name"] for p in schema["paths"][prefix + "entities/{entity_key}/records/"]["get"]["parameters"]}
    assert listing == {"workspace_slug", "entity_key", "filter", "sort", "order", "cursor", "limit"}


def test_an_entity_names_its_records_by_the_display_attribute_set_through_the_api(api, workspace):
    assert api.post("entities/", STORE).status_code == 201
    # an attribute of its own, or "" for the automatic choice
    response = api.send("PATCH", "entities/store/", {"display_attribute": "city"})
    assert response.status_code == 200 and response.json()["display_attribute"] == "city"
    response = api.send("PATCH", "entities/store/", {"display_attribute": "nope"})
    assert response.status_code == 400 and "store has no attribute 'nope'" in response.content.decode()
    response = api.send("PATCH", "entities/store/", {"display_attribute": "x" * 64})
    assert response.status_code == 400 and "display_attribute" in response.json()
    assert api.get("entities/store/").json()["display_attribute"] == "city"
    response = api.send("PATCH", "entities/store/", {"display_attribute": ""})
    assert response.status_code == 200 and response.json()["display_attribute"] == ""
