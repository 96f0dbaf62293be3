"""The data screens: the model editor (entities, attributes, links, profile and addresses,
the diagram), the data browser (records and record pages) and CSV uploads with their
reports. alice owns the agency, bob is a viewer, mallory a marketer, charlie an outsider."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from django.db import connection
from psycopg import sql

from apps.datamodel.ingestion import Options, ingest_csv
from apps.datamodel.ingestion.services import ingestion_job_run
from apps.datamodel.modeldoc import model_export
from apps.datamodel.models import AddressMapping, Attribute, Entity, IngestionJob, Relationship
from apps.datamodel.selectors import record_get, records_count, records_page
from tests.factories import make_travel_model
from tests.isolation.world import database_digest

BASE = "/w/northwind/data/"


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)


def text(response) -> str:
    return html.unescape(response.content.decode())


def hx(client, method: str, url: str, data=None, target: str | None = None):
    headers = {"HTTP_HX_REQUEST": "true"}
    if target:
        headers["HTTP_HX_TARGET"] = target
    if method == "get":
        return client.get(url, data or {}, **headers)
    return client.post(url, data or {}, **headers)


def keys_in(response) -> list[str]:
    """The record keys of the browser's table, in order."""
    table = re.search(r'<table[^>]*id="records-table".*?</table>', response.content.decode(), re.S).group(0)
    return re.findall(r'<tr data-key="([^"]+)"', table)


def attribute_keys(entity_key: str, workspace) -> list[str]:
    return list(Attribute.objects.filter(workspace=workspace, entity__key=entity_key).order_by("position", "id")
                .values_list("key", flat=True))


# --- the model page and the diagram ----------------------------------------------------------

def test_the_model_page_lists_entities_links_the_profile_and_draws_the_diagram(client_for, bob, travel):
    response = client_for(bob).get(BASE)
    assert response.status_code == 200
    page = text(response)
    entities = re.search(r'<table[^>]*id="entities-table".*?</table>', page, re.S).group(0)
    assert re.findall(r'<tr id="entity-([a-z_]+)"', entities) == ["booking", "customer", "product"]
    assert re.findall(r'<tr id="link-\d+"', page).__len__() == 2
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert re.findall(r'data-entity="([a-z_]+)"', svg) == ["customer", "product", "booking"]
    assert re.findall(r'data-link="([a-z_.]+)"', svg) == ["booking.customer", "booking.product"]
    assert re.findall(r'class="erd-label"[^>]*>([^<]+)<', svg) == ["customer", "product"]
    assert re.findall(r'class="erd-label erd-reverse"[^>]*>([^<]+)<', svg) == ["bookings", "bookings"]
    assert 'href="/w/northwind/data/entities/booking/"' in svg
    assert "Customer is the profile dimension" in re.sub(r"<[^>]+>", "", page)
    # a viewer sees no editing controls
    assert 'id="entity-create-form"' not in page
    assert 'id="model-import-form"' not in page
    assert ">Remove</button>" not in page


def test_the_diagram_downloads_as_an_svg_file(client_for, bob, travel):
    response = client_for(bob).get(BASE + "model.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
    assert body.count("<a class=\"erd-entity") == 3


def test_an_htmx_refresh_of_the_diagram_returns_only_the_diagram(client_for, bob, travel):
    response = hx(client_for(bob), "get", BASE, target="erd-panel")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<article id="erd-panel"')
    assert "<html" not in body
    assert response["Vary"] == "HX-Request, Cookie"


def test_the_outsider_gets_404(client_for, charlie, travel):
    assert client_for(charlie).get(BASE).status_code == 404


# --- entities --------------------------------------------------------------------------------

def entity_form(key: str, rows: list[dict], **extra) -> dict:
    data = {"key": key, "label": "", "description": "", "pk_key": "id", "pk_type": "integer",
            "attr-TOTAL_FORMS": str(len(rows) + 2), "attr-INITIAL_FORMS": "0", "attr-MIN_NUM_FORMS": "0",
            "attr-MAX_NUM_FORMS": "1000", **extra}
    for i, row in enumerate(rows + [{}, {}]):
        data[f"attr-{i}-type"] = "text"
        for name, value in row.items():
            data[f"attr-{i}-{name}"] = value
    return data


def test_a_marketer_creates_an_entity_with_its_attributes(client_for, mallory, workspace):
    rows = [{"key": "city", "label": "City"}, {"key": "opened_on", "type": "date", "required": "on"},
            {"key": "format", "type": "enum", "enum_values": "mall, high street,outlet"}]
    response = client_for(mallory).post(BASE + "entities/", entity_form("store", rows, label="Store",
                                                                        pk_key="store_id", pk_type="text"))
    assert response.status_code == 302
    assert response.url == "/w/northwind/data/entities/store/"
    store = Entity.objects.get(workspace=workspace, key="store")
    assert store.label == "Store"
    assert [(a.key, a.label, a.type, a.required, a.is_primary_key, a.enum_values)
            for a in store.attributes.order_by("position")] == [
        ("store_id", "Store id", "text", True, True, []),
        ("city", "City", "text", False, False, []),
        ("opened_on", "Opened on", "date", True, False, []),
        ("format", "Format", "enum", False, False, ["mall", "high street", "outlet"]),
    ]
    assert records_count(entity=store) == 0  # the table exists


def test_creating_an_entity_over_htmx_returns_the_form_and_signals_the_lists(client_for, mallory, workspace):
    response = hx(client_for(mallory), "post", BASE + "entities/", entity_form("store", [{"key": "city"}]),
                  target="entity-create")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "entitiesChanged"
    page = text(response)
    assert page.lstrip().startswith('<article id="entity-create"')
    assert "The entity store was created with 2 attribute(s)." in page
    assert 'href="/w/northwind/data/entities/store/">Open Store</a>' in page
    assert attribute_keys("store", workspace) == ["id", "city"]


def test_an_invalid_entity_key_shows_the_reason_and_creates_nothing(client_for, mallory, workspace):
    before = database_digest()
    response = hx(client_for(mallory), "post", BASE + "entities/", entity_form("Bad Key", [{"key": "city"}]),
                  target="entity-create")
    assert response.status_code == 422
    assert ("Entity key 'Bad Key' is not valid: use 1-63 lowercase letters, digits and underscores, starting "
            "with a letter (e.g. 'loyalty_tier').") in text(response)
    assert database_digest() == before


def test_a_viewer_cannot_create_an_entity(client_for, bob, workspace):
    before = database_digest()
    response = client_for(bob).post(BASE + "entities/", entity_form("store", []))
    assert response.status_code == 403
    assert database_digest() == before


def test_the_entity_page_shows_attributes_links_and_addresses(client_for, mallory, travel):
    response = client_for(mallory).get(BASE + "entities/booking/")
    assert response.status_code == 200
    page = text(response)
    rows = re.findall(r'<tr id="attr-([a-z_]+)"', page)
    assert rows == ["booking_id", "customer_id", "product_id", "booked_at", "start_date", "end_date", "amount",
                    "currency", "status"]
    links_out = re.search(r'<ul class="plain-list" id="links-out">.*?</ul>', page, re.S).group(0)
    assert "booking.customer</code> →" in links_out and "booking.product</code> →" in links_out
    assert 'id="addresses-panel"' not in page  # booking is not the profile dimension
    customer = text(client_for(mallory).get(BASE + "entities/customer/"))
    assert 'id="addresses-form"' in customer
    assert "customer.bookings</code> ←" in customer


def test_a_viewer_sees_the_entity_without_editing_controls(client_for, bob, travel):
    page = text(client_for(bob).get(BASE + "entities/customer/"))
    assert 'id="attr-email"' in page
    for control in ('id="attribute-add-form"', 'id="entity-delete-form"', 'id="entity-settings-form"',
                    'id="addresses-form"', ">Edit</a>", "Drop…"):
        assert control not in page
    assert "<dt>Email address</dt><dd><code>email</code></dd>" in page


def test_deleting_an_entity_needs_its_key_typed(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    before = database_digest()
    response = hx(client, "post", BASE + "entities/booking/delete/", {"confirm": "bookings"}, target="entity-delete")
    assert response.status_code == 422
    assert "Type the entity key 'booking' to confirm: its table and data will be deleted." in text(response)
    assert database_digest() == before
    # when the key is typed
    response = client.post(BASE + "entities/booking/delete/", {"confirm": "booking"})
    assert response.status_code == 302
    assert response.url == BASE
    assert list(Entity.objects.filter(workspace=workspace).values_list("key", flat=True)) == ["customer", "product"]
    assert Relationship.objects.filter(workspace=workspace).count() == 0
    assert "The entity booking, its table and its data were deleted." in text(client.get(BASE))


def test_entity_settings_save_the_label_and_switch_the_profile(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    response = hx(client, "post", BASE + "entities/product/", {"label": "Trip", "description": "What we sell"},
                  target="entity-settings")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "entityChanged"
    assert "Settings of product saved." in text(response)
    assert '<h1 id="entity-title" hx-swap-oob="true">Trip <code class="entity-key">product</code></h1>' in text(
        response)
    product = Entity.objects.get(workspace=workspace, key="product")
    assert (product.label, product.description, product.is_profile) == ("Trip", "What we sell", False)
    assert AddressMapping.objects.filter(workspace=workspace).count() == 10
    # when product becomes the profile dimension: the page reloads (it gains the addresses card)
    response = hx(client, "post", BASE + "entities/product/", {"label": "Trip", "is_profile": "on"},
                  target="entity-settings")
    assert response.status_code == 204
    assert response["HX-Redirect"] == BASE + "entities/product/"
    assert list(Entity.objects.filter(workspace=workspace, is_profile=True).values_list("key", flat=True)) == [
        "product"]
    assert AddressMapping.objects.filter(workspace=workspace).count() == 0


# --- attributes ------------------------------------------------------------------------------

def test_adding_an_attribute_returns_the_panel_and_the_column_exists(client_for, mallory, workspace, travel):
    response = hx(client_for(mallory), "post", BASE + "entities/customer/attributes/",
                  {"new-key": "segment", "new-label": "Segment", "new-type": "enum", "new-enum_values": "a, b"},
                  target="attributes-panel")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "attributesChanged"
    page = text(response)
    assert page.lstrip().startswith('<section id="attributes-panel"')
    assert "customer.segment was added." in page
    assert 'id="attr-segment"' in page
    segment = Attribute.objects.get(workspace=workspace, entity__key="customer", key="segment")
    assert (segment.type, segment.enum_values, segment.required) == ("enum", ["a", "b"], False)
    customer = Entity.objects.get(workspace=workspace, key="customer")
    assert records_page(entity=customer, filters=[("segment", "isnull", None)]).rows.__len__() == 3


def test_adding_an_attribute_that_exists_shows_the_reason(client_for, mallory, workspace, travel):
    before = database_digest()
    response = hx(client_for(mallory), "post", BASE + "entities/customer/attributes/",
                  {"new-key": "email", "new-type": "text"}, target="attributes-panel")
    assert response.status_code == 422
    assert "customer already has an attribute 'email'." in text(response)
    assert database_digest() == before


def test_the_edit_row_comes_alone_for_htmx_and_in_the_page_without_javascript(client_for, mallory, travel):
    client = client_for(mallory)
    response = hx(client, "get", BASE + "entities/customer/attributes/country/", target="attr-country")
    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith('<tr id="attr-country" class="row-form">')
    assert 'hx-post="/w/northwind/data/entities/customer/attributes/country/"' in row
    assert "<html" not in row
    page = client.get(BASE + "entities/customer/attributes/country/").content.decode()
    assert "<html" in page and '<tr id="attr-country" class="row-form">' in page
    assert '<tr id="attr-city">' in page  # the other rows are shown as they are


def test_changing_an_attribute_label_and_type_when_every_value_converts(client_for, mallory, workspace, travel):
    response = hx(client_for(mallory), "post", BASE + "entities/customer/attributes/country/",
                  {"label": "Country code", "type": "enum", "enum_values": "NL, DE, FR, BE"},
                  target="attr-country")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#attributes-panel"
    assert response["HX-Trigger"] == "attributesChanged"
    assert "customer.country was saved." in text(response)
    country = Attribute.objects.get(workspace=workspace, entity__key="customer", key="country")
    assert (country.label, country.type, country.enum_values) == ("Country code", "enum", ["NL", "DE", "FR", "BE"])


def test_a_type_change_is_refused_when_a_stored_value_does_not_convert(client_for, mallory, workspace, travel):
    before = database_digest()
    response = hx(client_for(mallory), "post", BASE + "entities/customer/attributes/first_name/",
                  {"label": "Given name", "type": "integer"}, target="attr-first_name")
    assert response.status_code == 422
    row = text(response)
    assert row.lstrip().startswith('<tr id="attr-first_name" class="row-form">')
    assert "customer.first_name cannot become integer: 3 stored value(s) do not convert (e.g. 'Anna')." in row
    assert database_digest() == before
    first_name = Attribute.objects.get(workspace=workspace, entity__key="customer", key="first_name")
    assert (first_name.label, first_name.type) == ("First name", "text")


def test_the_primary_key_keeps_its_type_whatever_is_posted(client_for, mallory, workspace, travel):
    response = client_for(mallory).post(BASE + "entities/customer/attributes/customer_id/",
                                        {"label": "Number", "type": "text"})
    assert response.status_code == 302
    pk = Attribute.objects.get(workspace=workspace, entity__key="customer", key="customer_id")
    assert (pk.label, pk.type, pk.required) == ("Number", "integer", True)


def test_dropping_an_attribute_needs_its_key_typed(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    # the confirmation row
    response = hx(client, "get", BASE + "entities/customer/attributes/city/delete/", target="attr-city")
    assert response.status_code == 200
    assert "Type <strong>city</strong> to confirm" in response.content.decode()
    # a wrong confirmation changes nothing
    before = database_digest()
    response = hx(client, "post", BASE + "entities/customer/attributes/city/delete/", {"confirm": "City"},
                  target="attr-city")
    assert response.status_code == 422
    assert "Type the attribute key 'city' to confirm: its values will be deleted." in text(response)
    assert database_digest() == before
    # the right one drops the column and its values
    response = hx(client, "post", BASE + "entities/customer/attributes/city/delete/", {"confirm": "city"},
                  target="attr-city")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#attributes-panel"
    assert "customer.city and its values were deleted." in text(response)
    assert "city" not in attribute_keys("customer", workspace)
    customer = Entity.objects.get(workspace=workspace, key="customer")
    assert "city" not in record_get(entity=customer, key=1)


def test_the_drop_confirmation_works_without_javascript(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    page = client.get(BASE + "entities/customer/attributes/city/delete/").content.decode()
    assert '<tr id="attr-city" class="row-form row-danger">' in page
    assert 'action="/w/northwind/data/entities/customer/attributes/city/delete/"' in page
    response = client.post(BASE + "entities/customer/attributes/city/delete/", {"confirm": "city"})
    assert response.status_code == 302
    assert response.url == BASE + "entities/customer/"
    assert "city" not in attribute_keys("customer", workspace)


def test_a_viewer_cannot_change_or_drop_an_attribute(client_for, bob, travel):
    client = client_for(bob)
    before = database_digest()
    assert client.post(BASE + "entities/customer/attributes/city/", {"label": "Town", "type": "text"}
                       ).status_code == 403
    assert client.post(BASE + "entities/customer/attributes/city/delete/", {"confirm": "city"}).status_code == 403
    assert client.get(BASE + "entities/customer/attributes/city/").status_code == 403
    assert database_digest() == before


# --- links -----------------------------------------------------------------------------------

def test_links_are_removed_and_added_from_the_entity_page(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    rel = Relationship.objects.get(workspace=workspace, source__key="booking", key="customer")
    response = hx(client, "post", BASE + f"links/{rel.pk}/delete/", {"from": "booking"}, target="links-panel")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "linksChanged"
    assert text(response).lstrip().startswith('<section id="links-panel"')
    assert list(Relationship.objects.filter(workspace=workspace).values_list("key", flat=True)) == ["product"]
    # the column is now free to hold a link again
    response = hx(client, "post", BASE + "entities/booking/links/",
                  {"column": "customer_id", "target": "customer", "key": "traveller", "reverse_key": "trips",
                   "kind": "many_to_one"}, target="links-panel")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "linksChanged"
    assert "booking.traveller now points to customer (customer.trips lists them)." in text(response)
    rel = Relationship.objects.get(workspace=workspace, source__key="booking", key="traveller")
    assert (rel.target.key, rel.attribute.key, rel.reverse_key, rel.kind) == (
        "customer", "customer_id", "trips", "many_to_one")


def test_a_link_column_of_the_wrong_type_is_refused_with_the_reason(client_for, mallory, workspace, travel):
    before = database_digest()
    response = hx(client_for(mallory), "post", BASE + "entities/booking/links/",
                  {"column": "currency", "target": "customer", "key": "payer", "reverse_key": "payments",
                   "kind": "many_to_one"}, target="links-panel")
    assert response.status_code == 422
    assert ("booking.currency is enum but customer.customer_id is integer: the link column must have the type of "
            "the target's primary key.") in text(response)
    assert database_digest() == before


def test_removing_a_link_from_the_model_page_returns_its_table(client_for, mallory, workspace, travel):
    rel = Relationship.objects.get(workspace=workspace, source__key="booking", key="product")
    response = hx(client_for(mallory), "post", BASE + f"links/{rel.pk}/delete/", target="relationships-panel")
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<section id="relationships-panel"')
    assert re.findall(r'<tr id="link-\d+"', page).__len__() == 1
    assert "The link booking.product → product was removed; the column booking.product_id keeps its values." in page


# --- profile and addresses ---------------------------------------------------------------------

def test_the_address_mapping_is_saved_for_the_profile_dimension(client_for, mallory, workspace, travel):
    response = hx(client_for(mallory), "post", BASE + "entities/customer/addresses/",
                  {"email": "email", "phone": "phone", "first_name": "first_name", "address_line1": "street",
                   "city": "city", "country": "country"}, target="addresses-panel")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "addressesChanged"
    assert "The channel addresses were saved." in text(response)
    mapping = dict(AddressMapping.objects.filter(workspace=workspace).values_list("role", "attribute__key"))
    assert mapping == {"email": "email", "phone": "phone", "first_name": "first_name", "address_line1": "street",
                       "city": "city", "country": "country"}


def test_the_email_role_offers_only_email_and_text_attributes(client_for, mallory, workspace, travel):
    before = database_digest()
    response = hx(client_for(mallory), "post", BASE + "entities/customer/addresses/", {"email": "birth_date"},
                  target="addresses-panel")
    assert response.status_code == 422
    assert "Select a valid choice. birth_date is not one of the available choices." in text(response)
    assert database_digest() == before


def test_addresses_of_an_entity_that_is_not_the_profile_are_not_found(client_for, mallory, travel):
    assert client_for(mallory).post(BASE + "entities/product/addresses/", {"email": "name"}).status_code == 404


# --- the data browser --------------------------------------------------------------------------

def load_customers(workspace, count: int) -> None:
    customer = Entity.objects.get(workspace=workspace, key="customer")
    lines = ["customer_id,first_name,country"] + [f"{100 + i},Name{i:03d},{'NL' if i % 2 else 'DE'}"
                                                  for i in range(count)]
    report = ingest_csv(entity=customer, stream=io.BytesIO("\n".join(lines).encode()), options=Options())
    assert report.status == "done", report.as_dict()


def test_records_are_sorted_by_a_column_in_either_direction(client_for, bob, travel):
    client = client_for(bob)
    assert keys_in(client.get(BASE + "entities/customer/records/")) == ["1", "2", "3"]
    response = client.get(BASE + "entities/customer/records/", {"sort": "first_name", "dir": "desc"})
    assert keys_in(response) == ["3", "2", "1"]
    assert 'aria-sort="descending"' in response.content.decode()
    # birth dates: the empty one comes last either way
    assert keys_in(client.get(BASE + "entities/customer/records/", {"sort": "birth_date"})) == ["1", "2", "3"]
    assert keys_in(client.get(BASE + "entities/customer/records/", {"sort": "birth_date", "dir": "desc"})) == [
        "2", "1", "3"]


def test_records_are_filtered(client_for, bob, travel):
    client = client_for(bob)
    url = BASE + "entities/customer/records/"
    response = client.get(url, {"f": "country", "op": "eq", "v": "DE"})
    assert keys_in(response) == ["2"]
    assert "1 record matching the filters" not in text(response)
    assert "Rows 1–1 of 1 matching the filters" in text(response)
    assert keys_in(client.get(url, {"f": "phone", "op": "isnull", "v": ""})) == ["2"]
    assert keys_in(client.get(url, {"f": ["email", "loyalty_tier"], "op": ["contains", "in"],
                                    "v": ["example", "gold,silver"]})) == ["1", "2"]
    # the filter's remove link drops it
    page = client.get(url, {"f": "country", "op": "eq", "v": "DE"}).content.decode()
    assert 'href="/w/northwind/data/entities/customer/records/"' in page


def test_a_bad_filter_value_shows_the_reason(client_for, bob, travel):
    response = client_for(bob).get(BASE + "entities/customer/records/", {"f": "customer_id", "op": "gt", "v": "ten"})
    assert response.status_code == 200
    assert "customer_id: 'ten' is not a valid integer." in text(response)
    assert keys_in(response) == []


def test_records_are_paginated_forwards_and_back(client_for, bob, workspace, travel):
    load_customers(workspace, 57)
    client = client_for(bob)
    url = BASE + "entities/customer/records/"
    first = client.get(url, {"size": "25"})
    assert keys_in(first) == ["1", "2", "3"] + [str(100 + i) for i in range(22)]
    assert "Rows 1–25 of 60" in text(first)
    next_url = html.unescape(re.search(r'<a href="([^"]+)"[^>]*rel="next"', first.content.decode()).group(1))
    second = client.get(next_url)
    assert keys_in(second) == [str(100 + i) for i in range(22, 47)]
    assert "Rows 26–50 of 60" in text(second)
    assert "Page 2" in text(second)
    third = client.get(html.unescape(re.search(r'<a href="([^"]+)"[^>]*rel="next"', second.content.decode()).group(1)))
    assert keys_in(third) == [str(100 + i) for i in range(47, 57)]
    assert 'rel="next"' not in third.content.decode()
    back = client.get(html.unescape(re.search(r'<a href="([^"]+)"[^>]*rel="prev"', third.content.decode()).group(1)))
    assert keys_in(back) == keys_in(second)


def test_an_htmx_page_change_returns_only_the_table_region(client_for, bob, travel):
    response = hx(client_for(bob), "get", BASE + "entities/customer/records/", {"sort": "country"},
                  target="records-panel")
    assert response.content.decode().lstrip().startswith('<section id="records-panel">')
    assert keys_in(response) == ["2", "3", "1"]


def test_link_columns_link_to_the_record_they_point_to(client_for, bob, travel):
    page = client_for(bob).get(BASE + "entities/booking/records/").content.decode()
    assert '<a href="/w/northwind/data/entities/customer/records/1/">1</a>' in page
    assert '<a href="/w/northwind/data/entities/product/records/101/">101</a>' in page


# Session, user, workspace, membership, permissions (5); entity and attributes (2); links
# (1); the page and the count (2); the workspace switcher (2); and the request's savepoint
# and its release (2, in tests the request runs inside the test's transaction).
RECORDS_PAGE_QUERIES = 14


def test_the_records_page_runs_a_fixed_number_of_queries(client_for, bob, workspace, travel,
                                                         django_assert_num_queries):
    client = client_for(bob)
    url = BASE + "entities/customer/records/"
    with django_assert_num_queries(RECORDS_PAGE_QUERIES):
        response = client.get(url, {"sort": "first_name", "f": "country", "op": "ne", "v": "FR"})
    assert len(keys_in(response)) == 2
    load_customers(workspace, 57)
    with django_assert_num_queries(RECORDS_PAGE_QUERIES):
        response = client.get(url, {"sort": "first_name", "f": "country", "op": "ne", "v": "FR"})
    assert len(keys_in(response)) == 50


def test_a_record_page_shows_its_attributes_and_its_children(client_for, bob, travel):
    response = client_for(bob).get(BASE + "entities/customer/records/1/")
    assert response.status_code == 200
    page = text(response)
    assert "<dt title=\"first_name (text)\">First name</dt>\n      <dd>Anna</dd>" in page
    children = re.search(r'<article class="link-card" id="children-bookings">.*?</article>', page, re.S).group(0)
    assert re.findall(r'<tr data-key="(\d+)"', children) == ["1000", "1001"]
    assert 'href="/w/northwind/data/entities/booking/records/1000/"' in children
    assert ('href="/w/northwind/data/entities/booking/records/?f=customer_id&op=eq&v=1"'
            in children.replace("&amp;", "&"))


def test_a_record_page_shows_the_records_it_points_to(client_for, bob, travel):
    page = text(client_for(bob).get(BASE + "entities/booking/records/1002/"))
    parents = re.search(r'<section id="record-parents">.*?</section>', page, re.S).group(0)
    assert '<a href="/w/northwind/data/entities/customer/records/2/"><strong>Ben Meyer</strong></a>' in parents
    assert '<a href="/w/northwind/data/entities/product/records/100/"><strong>Alps ski week</strong></a>' in parents
    assert "Ben" in parents and "Alps ski week" in parents


def test_a_link_to_a_missing_record_is_shown_as_an_orphan(client_for, bob, workspace, travel):
    booking = Entity.objects.get(workspace=workspace, key="booking")
    ingest_csv(entity=booking, stream=io.BytesIO(b"booking_id,customer_id,product_id\n1003,99,\n"), options=Options())
    page = text(client_for(bob).get(BASE + "entities/booking/records/1003/"))
    assert "No customer has the key <code>99</code>: an orphan link." in page
    assert "Empty: <code>product_id</code> has no value." in page


def test_a_missing_record_is_404(client_for, bob, travel):
    client = client_for(bob)
    assert client.get(BASE + "entities/customer/records/404/").status_code == 404
    assert client.get(BASE + "entities/customer/records/not-a-number/").status_code == 404


def test_a_marketer_deletes_a_record_and_a_viewer_cannot(client_for, bob, mallory, workspace, travel):
    customer = Entity.objects.get(workspace=workspace, key="customer")
    before = database_digest()
    assert client_for(bob).post(BASE + "entities/customer/delete-record/3/").status_code == 403
    assert database_digest() == before
    response = client_for(mallory).post(BASE + "entities/customer/delete-record/3/")
    assert response.status_code == 302
    assert response.url == BASE + "entities/customer/records/"
    assert records_count(entity=customer) == 2
    assert client_for(mallory).post(BASE + "entities/customer/delete-record/3/").status_code == 404


# --- uploads and their reports --------------------------------------------------------------------

UPLOAD = (b"customer_id,email,first_name,birth_date\n"
          b"2,ben@example.test,Benjamin,1990-07-01\n"
          b"4,dora@example.test,Dora,1992-12-24\n"
          b"x5,emil@example.test,Emil,1980-02-02\n"
          b"6,frank,Frank,1970-01-31\n")


def upload(client, entity: str, content: bytes, name: str = "customers.csv", **options):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "mode": "skip",
            "max_errors": "10", "delimiter": ",", "encoding": "utf-8", "ignore": "", **options}
    return client.post(BASE + f"entities/{entity}/upload/", data)


def test_an_upload_becomes_a_job_whose_report_lists_the_errors(client_for, mallory, workspace, travel,
                                                               django_capture_on_commit_callbacks):
    client = client_for(mallory)
    # when the file is uploaded
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(client, "customer", UPLOAD)
    job = IngestionJob.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response.url == BASE + f"loads/{job.pk}/"
    assert len(callbacks) == 1  # the load is queued for a worker once the upload commits
    assert (job.status, job.mode, job.max_errors, job.original_name, job.size_bytes) == (
        "queued", "skip", 10, "customers.csv", len(UPLOAD))
    # then its page polls the status while it waits
    page = text(client.get(BASE + f"loads/{job.pk}/"))
    assert "customers.csv is queued for loading into Customer." in page
    assert f'hx-get="/w/northwind/data/loads/{job.pk}/status/" hx-trigger="every 1s"' in page
    assert "Waiting for a worker" in page
    status = client.get(BASE + f"loads/{job.pk}/status/")
    assert 'hx-trigger="every 1s"' in status.content.decode()
    assert status["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    # when the worker has run it
    ingestion_job_run(job_id=job.pk)
    status = client.get(BASE + f"loads/{job.pk}/status/")
    report = text(status)
    assert "hx-trigger" not in report  # polling stops
    counts = dict(re.findall(r'<dd data-count="([a-z_]+)">([^<]+)</dd>', report))
    assert counts == {"rows_seen": "4", "inserted": "1", "updated": "1", "unchanged": "0", "deleted": "0",
                      "rejected": "2", "orphans": "0", "duplicates": "0"}
    assert "2 bad row(s) skipped." in report
    errors = re.search(r'<table[^>]*id="job-errors">.*?</table>', report, re.S).group(0)
    cells = [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", errors, re.S)]
    assert cells == ["4", "customer_id", "x5", "not a whole number",
                     "5", "email", "frank", "not an email address"]
    assert f'href="/w/northwind/data/loads/{job.pk}/rejected-rows.csv"' in report
    # and the rejected rows download as CSV
    response = client.get(BASE + f"loads/{job.pk}/rejected-rows.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="customers-rejected-rows.csv"'
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "line,errors,customer_id,email,first_name,birth_date",
        "4,customer_id: not a whole number,x5,emil@example.test,Emil,1980-02-02",
        "5,email: not an email address,6,frank,Frank,1970-01-31",
    ]
    customer = Entity.objects.get(workspace=workspace, key="customer")
    assert record_get(entity=customer, key=2)["first_name"] == "Benjamin"
    assert records_count(entity=customer) == 4


def test_upload_options_mapping_and_date_formats_reach_the_load(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    content = "nr\tE-mail\tbirth_date\tnotes\n7\tgreta@example.test\t31.12.1999\tMüller\n".encode("latin-1")
    response = upload(client, "customer", content, name="export.tsv", delimiter="tab", encoding="latin-1",
                      mode="reject", **{"header__customer_id": "nr", "header__email": "E-mail",
                                        "format__birth_date": "DD.MM.YYYY", "ignore": "notes"})
    assert response.status_code == 302
    job = IngestionJob.objects.get(workspace=workspace)
    assert job.options == {"delimiter": "\t", "encoding": "latin-1", "date_formats": {"birth_date": "DD.MM.YYYY"},
                           "mapping": {"notes": None, "nr": "customer_id", "E-mail": "email"}}
    job = ingestion_job_run(job_id=job.pk)
    assert (job.status, job.inserted) == ("done", 1)
    row = record_get(entity=Entity.objects.get(workspace=workspace, key="customer"), key=7)
    assert (row["email"], str(row["birth_date"])) == ("greta@example.test", "1999-12-31")
    page = text(client.get(BASE + f"loads/{job.pk}/"))
    assert "<dt>Delimiter</dt><dd><code>tab</code></dd>" in page


def test_in_reject_mode_a_bad_row_rejects_the_file_and_writes_nothing(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    upload(client, "customer", UPLOAD, mode="reject")
    job = ingestion_job_run(job_id=IngestionJob.objects.get(workspace=workspace).pk)
    report = text(client.get(BASE + f"loads/{job.pk}/status/"))
    assert '<span class="badge status-rejected" id="job-outcome">Rejected</span>' in report
    assert "2 bad row(s): the file was rejected and nothing was written." in report
    customer = Entity.objects.get(workspace=workspace, key="customer")
    assert records_count(entity=customer) == 3
    assert record_get(entity=customer, key=2)["first_name"] == "Ben"


def test_a_header_problem_is_reported_on_line_1(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    upload(client, "customer", b"customer_id,shoe_size\n1,42\n")
    job = ingestion_job_run(job_id=IngestionJob.objects.get(workspace=workspace).pk)
    report = text(client.get(BASE + f"loads/{job.pk}/"))
    assert ("Unknown column 'shoe_size': customer has no such attribute; map it to one or ignore it."
            in report)
    assert "rejected-rows.csv" not in report


def test_two_attributes_mapped_to_one_column_is_a_form_error(client_for, mallory, workspace, travel):
    response = upload(client_for(mallory), "customer", UPLOAD,
                      **{"header__first_name": "name", "header__last_name": "name"})
    assert response.status_code == 200
    assert "The column 'name' is already mapped to first_name." in text(response)
    assert IngestionJob.objects.filter(workspace=workspace).count() == 0


def test_the_upload_form_lists_each_attribute_with_date_formats_for_dates(client_for, mallory, travel):
    page = client_for(mallory).get(BASE + "entities/booking/upload/").content.decode()
    mapping = re.search(r'<table[^>]*id="mapping-table">.*?</table>', page, re.S).group(0)
    assert re.findall(r'name="header__([a-z_]+)"', mapping) == [
        "booking_id", "customer_id", "product_id", "booked_at", "start_date", "end_date", "amount", "currency",
        "status"]
    assert re.findall(r'name="format__([a-z_]+)"', mapping) == ["booked_at", "start_date", "end_date"]
    assert '<option value="DD/MM/YYYY">DD/MM/YYYY</option>' in mapping


def test_a_viewer_cannot_upload(client_for, bob, workspace, travel):
    before = database_digest()
    response = upload(client_for(bob), "customer", UPLOAD)
    assert response.status_code == 403
    assert client_for(bob).get(BASE + "entities/customer/upload/").status_code == 403
    assert IngestionJob.objects.filter(workspace=workspace).count() == 0
    assert database_digest() == before


def test_the_loads_page_lists_every_load(client_for, bob, mallory, workspace, travel):
    upload(client_for(mallory), "customer", UPLOAD)
    upload(client_for(mallory), "product", b"product_id,name\n102,City trip\n", name="products.csv")
    for job in IngestionJob.objects.filter(workspace=workspace):
        ingestion_job_run(job_id=job.pk)
    page = text(client_for(bob).get(BASE + "loads/"))
    rows = re.findall(r'<tr id="job-(\d+)">.*?<td><a href="[^"]+">([a-z_]+)</a></td>\s*<td>([^<]+)</td>', page, re.S)
    assert [(entity, name) for _, entity, name in rows] == [("product", "products.csv"),
                                                            ("customer", "customers.csv")]


# --- the model as a document ---------------------------------------------------------------------

def test_the_model_downloads_as_json_and_imports_back(client_for, mallory, workspace, other_workspace, travel):
    response = client_for(mallory).get(BASE + "model.json")
    assert response["Content-Disposition"] == 'attachment; filename="northwind-model.json"'
    doc = json.loads(response.content)
    assert doc == model_export(workspace=workspace)
    # a second workspace imports it
    owner = other_workspace.organization
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(email="twin-owner@example.test")
    MembershipFactory(organization=owner, user=user, role="owner")
    response = client_for(user).post("/w/northwind-twin/data/model/import/", {"document": json.dumps(doc)})
    assert response.status_code == 302
    assert model_export(workspace=other_workspace) == doc


def test_a_broken_model_document_is_refused_with_the_reason(client_for, mallory, workspace):
    before = database_digest()
    response = client_for(mallory).post(BASE + "model/import/", {"document": '{"entities": [{"key": "x"'})
    assert response.status_code == 200
    assert "This is not a JSON document: Expecting" in text(response)
    response = client_for(mallory).post(BASE + "model/import/", {"document": json.dumps(
        {"entities": [{"key": "store", "primary_key": {"key": "id", "type": "date"}}]})})
    assert "entities[0] (store): store: a primary key must be text or integer, not date." in text(response)
    assert database_digest() == before


def test_a_record_is_titled_by_its_display_attribute_or_a_sensible_default(client_for, mallory, workspace, travel):
    client = client_for(mallory)
    # by default: first and last name for a customer, the name for a product
    page = text(client.get(BASE + "entities/customer/records/1/"))
    assert "<title>Anna Jansen · Customer" in page
    assert re.search(r'<h1 id="record-title">Anna Jansen <small class="muted">Customer <code class="entity-key">1</code>',
                     page)
    assert "Customer 1</" not in page.split("<main")[1].split("record-attributes")[0]
    # the entity names another attribute in its settings
    response = client.post(BASE + "entities/customer/", {"label": "Customer", "description": "",
                                                          "display_attribute": "email", "is_profile": "on"})
    assert response.status_code in (200, 302)
    assert Entity.objects.get(workspace=workspace, key="customer").display_attribute == "email"
    assert '<h1 id="record-title">anna@example.test' in text(client.get(BASE + "entities/customer/records/1/"))
    # an attribute it does not have is refused, nothing changes
    response = client.post(BASE + "entities/customer/", {"label": "Customer", "description": "",
                                                          "display_attribute": "nope", "is_profile": "on"},
                           HTTP_HX_REQUEST="true", HTTP_HX_TARGET="entity-settings")
    assert response.status_code == 422
    assert "Select a valid choice. nope is not one of the available choices." in text(response)
    assert Entity.objects.get(workspace=workspace, key="customer").display_attribute == "email"
    # a record whose display attribute is empty keeps the key as its title
    Entity.objects.filter(workspace=workspace, key="customer").update(display_attribute="birth_date")
    page = text(client.get(BASE + "entities/customer/records/3/"))  # Chloe has no birth date
    assert '<h1 id="record-title">Customer <code class="entity-key">3</code></h1>' in page


def test_the_browser_says_how_many_columns_and_rows_and_when_the_total_is_an_estimate(client_for, bob, workspace,
                                                                                        travel, monkeypatch):
    client = client_for(bob)
    page = text(client.get(BASE + "entities/customer/records/"))
    assert 'id="records-summary" data-total="3"' in page and "records-estimate" not in page
    columns = Entity.objects.get(workspace=workspace, key="customer").attributes.count()
    assert f'<span id="records-columns">{columns} columns: scroll the table sideways' in page
    # a huge table (by the planner's statistics) shows the estimate, and says so
    from apps.datamodel import selectors
    from apps.datamodel.views import records as records_view

    monkeypatch.setattr(selectors, "EXACT_COUNT_UP_TO", 2)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(f"ws_{workspace.pk}", "customer")).as_string(
            cursor.connection))
    page = text(client.get(BASE + "entities/customer/records/"))
    assert "Rows 1–3 of about 3" in page
    assert "PostgreSQL&#x27;s estimate" in page or "PostgreSQL's estimate" in page
    # filtered: counted exactly
    page = text(client.get(BASE + "entities/customer/records/", {"f": "country", "op": "eq", "v": "NL"}))
    assert 'data-total="1"' in page and "records-estimate" not in page
    assert records_view.WIDE_AFTER == 8
    # the record page says how many columns of the related rows it leaves out
    page = text(client.get(BASE + "entities/customer/records/1/"))
    children = re.search(r'<article class="link-card" id="children-bookings">.*?</article>', page, re.S).group(0)
    assert Entity.objects.get(workspace=workspace, key="booking").attributes.count() == 9
    assert "6 of 8 columns shown (the link column is this record)" in children


def test_the_display_attribute_travels_with_the_model_document(workspace, travel):
    from apps.datamodel.modeldoc import model_export, model_import
    from tests.factories import WorkspaceFactory

    Entity.objects.filter(workspace=workspace, key="customer").update(display_attribute="email")
    doc = model_export(workspace=workspace)
    customer = next(e for e in doc["entities"] if e["key"] == "customer")
    assert customer["display_attribute"] == "email"
    assert "display_attribute" not in next(e for e in doc["entities"] if e["key"] == "product")
    other = WorkspaceFactory(organization=workspace.organization, name="Copy", slug="copy")
    model_import(workspace=other, actor=None, doc=doc)
    assert Entity.objects.get(workspace=other, key="customer").display_attribute == "email"
    assert Entity.objects.get(workspace=other, key="product").display_attribute == ""
