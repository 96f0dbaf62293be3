"""Crashes a client could cause with numbers, ids, NUL characters, lone surrogates and
deep JSON: each is a 400 (or 404) naming the field, never a 500."""

import json

import pytest
from django.test import Client

from apps.tenants.models import ApiKey
from tests.factories import make_api_key

NUL_MESSAGE = "contains a NUL character (U+0000), which cannot be stored."
SURROGATE_MESSAGE = "contains a lone surrogate (U+D800), which is not valid Unicode."
DEPTH_MESSAGE = "JSON nested deeper than 64 levels."


@pytest.fixture
def api(workspace):
    _, raw = make_api_key(workspace, role="admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", raise_request_exception=False)
    client.base = f"/api/v1/workspaces/{workspace.slug}/"
    return client


def _nested(depth: int, leaf="x") -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# --- pagination -----------------------------------------------------------------------------
LIMIT_MESSAGE = "must be a whole number from 1 to 500."
OFFSET_MESSAGE = "must be a whole number from 0 to 9223372036854775807."


@pytest.mark.parametrize("query,body", [
    ("limit=18446744073709551616", {"limit": [LIMIT_MESSAGE]}),
    ("limit=9223372036854775808", {"limit": [LIMIT_MESSAGE]}),
    ("limit=1000000", {"limit": [LIMIT_MESSAGE]}),
    ("limit=501", {"limit": [LIMIT_MESSAGE]}),
    ("limit=0", {"limit": [LIMIT_MESSAGE]}),
    ("limit=-1", {"limit": [LIMIT_MESSAGE]}),
    ("limit=abc", {"limit": [LIMIT_MESSAGE]}),
    ("limit=1_0", {"limit": [LIMIT_MESSAGE]}),
    ("limit=%D9%A3", {"limit": [LIMIT_MESSAGE]}),
    ("offset=18446744073709551616", {"offset": [OFFSET_MESSAGE]}),
    ("offset=-1", {"offset": [OFFSET_MESSAGE]}),
    ("offset=1e3", {"offset": [OFFSET_MESSAGE]}),
])
@pytest.mark.parametrize("path", ["api-keys/", "audit-events/", "templates/", "campaigns/", "audiences/",
                                  "topics/", "suppressions/", "deliveries/", "ingestion-jobs/"])
def test_a_bad_limit_or_offset_on_a_list_is_a_400_naming_it(api, path, query, body):
    response = api.get(f"{api.base}{path}?{query}")
    assert response.status_code == 400, response.content
    assert response.json() == body


def test_limit_and_offset_within_bounds_page_as_before(api, workspace):
    for n in range(3):
        make_api_key(workspace, name=f"k{n}")
    response = api.get(f"{api.base}api-keys/?limit=2&offset=1")
    assert response.status_code == 200
    assert response.json()["count"] == 4
    assert len(response.json()["results"]) == 2
    assert api.get(f"{api.base}api-keys/?limit=500").json()["count"] == 4
    far = api.get(f"{api.base}api-keys/?offset=9223372036854775807")
    assert far.status_code == 200
    assert far.json()["results"] == []


def test_the_schema_publishes_the_bounds_of_limit_and_offset(api):
    schema = api.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/workspaces/{workspace_slug}/api-keys/"][
        "get"]["parameters"] if p["in"] == "query"}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters["offset"] == {"type": "integer", "minimum": 0, "maximum": 9223372036854775807}


# --- ids ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("delete", "api-keys/AAA/"), ("get", "api-keys/AAA/"), ("delete", "api-keys/1.5/"),
    ("delete", "api-keys/99999999999999999999/"), ("get", "api-keys/9223372036854775808/"),
    ("delete", "members/AAA/"), ("patch", "members/99999999999999999999/"),
    ("get", "templates/2147483648/"), ("get", "campaigns/99999999999999999999/"),
])
def test_a_non_integer_or_out_of_range_id_is_a_404(api, workspace, method, path):
    before = ApiKey.objects.filter(revoked_at__isnull=True).count()
    response = getattr(api, method)(api.base + path)
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found."}
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == before


# --- NUL and lone surrogates -----------------------------------------------------------------
def test_nul_in_a_query_parameter_is_a_400_naming_it(api):
    response = api.get(f"{api.base}suppressions/?search=a%00b")
    assert response.status_code == 400
    assert response.json() == {"search": [NUL_MESSAGE]}


def test_nul_in_a_path_is_a_404(api, client_for, alice, workspace):
    response = api.get(f"{api.base}profiles/a%00b/consents/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert client_for(alice).get(f"/w/{workspace.slug}/privacy/?key=a%00b").status_code == 400
    assert client_for(alice).get(f"/w/{workspace.slug}/data/entities/a%00b/").status_code == 404


def test_nul_in_a_query_parameter_name_is_a_400(api):
    response = api.get(f"{api.base}api-keys/?a%00b=1")
    assert response.status_code == 400
    assert response.json() == {"parameter name": [NUL_MESSAGE]}


@pytest.mark.parametrize("payload,field,message", [
    ({"backend": "smtp", "options": {"host": "a\x00b"}}, "options.host", NUL_MESSAGE),
    ({"backend": "smtp", "options": {"host": "a\ud800b"}}, "options.host", SURROGATE_MESSAGE),
    ({"backend": "smtp", "options": {"list": ["ok", "a\x00"]}}, "options.list[1]", NUL_MESSAGE),
    ({"backend": "smtp", "options": {"a\x00": 1}}, "options.<key>", "a key " + NUL_MESSAGE),
])
def test_nul_or_a_lone_surrogate_anywhere_in_json_is_a_400_naming_the_field(api, payload, field, message):
    body = json.dumps(payload)  # ensure_ascii: "\\u0000" and "\\ud800" escapes, as a client sends them
    response = api.put(f"{api.base}channels/email/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {field: [message]}


def test_nul_in_a_form_value_of_a_ui_page_is_a_400(client_for, alice, workspace):
    response = client_for(alice).post(f"/w/{workspace.slug}/data/model/import/", {"document": "{\x00}"})
    assert response.status_code == 400
    assert response.content.decode() == f"Bad request: document {NUL_MESSAGE}"


def test_nul_in_the_login_form_is_a_400_not_a_500(db):
    response = Client(raise_request_exception=False).post("/accounts/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400


# --- deep JSON ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [65, 1000, 100000])
def test_json_nested_too_deep_is_a_400(api, depth):
    body = json.dumps({"backend": "smtp", "options": {"deep": _nested(depth)}}) if depth < 1000 else (
        '{"backend": "smtp", "options": {"deep": ' + "[" * depth + "]" * depth + "}}")
    response = api.put(f"{api.base}channels/email/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {("options" if depth < 1000 else "body"): [DEPTH_MESSAGE]}


def test_json_nested_64_deep_passes_the_parser(api):
    body = json.dumps({"backend": "smtp", "options": {"deep": _nested(61)}})  # 64 levels with the two objects
    response = api.put(f"{api.base}channels/email/", body, content_type="application/json")
    assert DEPTH_MESSAGE not in response.content.decode()


@pytest.mark.parametrize("depth", [100, 100000])
def test_deep_json_in_a_ui_form_field_is_a_form_error(client_for, alice, workspace, depth):
    document = "[" * depth + "]" * depth
    response = client_for(alice).post(f"/w/{workspace.slug}/data/model/import/", {"document": document})
    assert response.status_code == 200
    assert DEPTH_MESSAGE in response.content.decode()


@pytest.mark.parametrize("depth,field", [(100, "all"), (100000, "body")])
def test_deep_json_in_the_audience_builder_is_refused(depth, field):
    from apps.audiences.views._tree import DefinitionError, load_definition

    with pytest.raises(DefinitionError) as caught:
        load_definition('{"all": ' + "[" * depth + "]" * depth + "}")
    assert str(caught.value) == f"The rule cannot be used: {field} JSON nested deeper than 64 levels."


def test_a_lone_surrogate_in_a_record_batch_is_an_error_of_its_record_not_a_500(api, workspace):
    from tests.factories import make_travel_model

    make_travel_model(workspace)
    body = ('{"records": [{"customer_id": 7, "email": "g@example.test", "country": "N\\ud800L"}, '
            '{"customer_id": 8, "email": "h@example.test", "country": "NL"}], "mode": "skip"}')
    response = api.post(f"{api.base}entities/customer/records/batch/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["errors"] == [{"record": 0, "column": "", "value": None,
                                          "reason": "country: a value cannot contain a lone surrogate (invalid Unicode)"}]
    key = '{"records": [{"customer_id": 7, "coun\\udfffry": "NL"}]}'
    response = api.post(f"{api.base}entities/customer/records/batch/", key, content_type="application/json")
    assert response.json()["errors"] == [{"record": None, "column": "", "value": None,
                                          "reason": "A key cannot contain a lone surrogate (invalid Unicode)."}]


def test_a_lone_surrogate_in_a_model_document_is_a_400(api):
    body = '{"entities": [{"key": "a", "label": "\\ud800", "primary_key": {"key": "id", "type": "integer"}}]}'
    response = api.post(f"{api.base}model/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": ["The document contains a lone surrogate (invalid Unicode)."]}


# --- integers past a column's range --------------------------------------------------------
@pytest.mark.parametrize("limit,message", [
    (2**31, "Ensure this value is less than or equal to 2147483647."),
    (2**63, "Ensure this value is less than or equal to 2147483647."),
    (10**30, "Ensure this value is less than or equal to 2147483647."),
])
def test_a_cap_limit_past_the_integer_column_is_a_400_naming_it(api, limit, message):
    from apps.consent.models import RuleSet

    body = json.dumps({"name": "Caps", "caps": [{"limit": limit, "period": "week"}]})
    response = api.post(f"{api.base}rule-sets/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"caps": {"0": {"limit": [message]}}}
    assert not RuleSet.objects.exists()


def test_max_errors_past_the_integer_column_is_a_400(api, workspace):
    from tests.factories import make_travel_model

    make_travel_model(workspace)
    body = json.dumps({"records": [{"customer_id": 9}], "mode": "skip", "max_errors": 2**31})
    response = api.post(f"{api.base}entities/customer/records/batch/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"max_errors": ["Ensure this value is less than or equal to 2147483647."]}


@pytest.mark.parametrize("query", ["campaign=9223372036854775808", "run=99999999999999999999999"])
def test_an_id_filter_past_a_bigint_is_a_400(api, query):
    response = api.get(f"{api.base}deliveries/?{query}")
    assert response.status_code == 400, response.content
    name = query.split("=")[0]
    assert response.json() == {name: ["Ensure this value is less than or equal to 9223372036854775807."]}


def test_every_integer_a_client_sends_has_bounds_in_the_schema(api):
    """Every integer in a request body or a query parameter of the published API has a
    minimum and a maximum: nothing unbounded reaches the database."""
    schema = api.get("/api/schema/?format=json").json()
    unbounded = []

    def walk(node, where, seen=()):
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schema["components"]["schemas"][name], f"{where}>{name}", (*seen, name))
            return
        if node.get("type") == "integer" and not node.get("readOnly") and (
                "maximum" not in node or "minimum" not in node):
            unbounded.append(where)
        for key in ("properties",):
            for name, child in (node.get(key) or {}).items():
                walk(child, f"{where}.{name}", seen)
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{where}[]", seen)
        for key in ("allOf", "oneOf", "anyOf"):
            for child in node.get(key) or []:
                walk(child, where, seen)

    for url, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    walk(parameter.get("schema"), f"{method} {url} ?{parameter['name']}")
            for media, content in (operation.get("requestBody") or {}).get("content", {}).items():
                walk(content.get("schema"), f"{method} {url} {media}")
    assert unbounded == []


def test_a_batch_error_about_the_whole_batch_has_a_null_record_as_the_schema_says(api, workspace):
    from tests.factories import make_travel_model

    make_travel_model(workspace)
    key = '{"records": [{"customer_id": 7, "coun\\u0000try": "NL"}]}'
    response = api.post(f"{api.base}entities/customer/records/batch/", key, content_type="application/json")
    assert response.json()["errors"][0]["record"] is None
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]["IngestionError"]["properties"]
    assert schema["record"]["nullable"] is True
    assert schema["line"]["nullable"] is True
