"""Data subject requests by email or phone, not only by key: the privacy page and the
lookup API find the profile by its address (phones compared in E.164); several profiles
with one address are listed (a 409 over the API), never guessed."""

from __future__ import annotations

from django.test import Client
from psycopg import sql

from apps.core.sqlutil import execute
from apps.datamodel import ddl
from apps.datamodel.models import Entity
from tests.factories import make_api_key, make_travel_model
from tests.isolation.world import database_digest

_names = iter(range(1, 10**6))


def admin_api(workspace):
    _, raw = make_api_key(workspace, role="admin", name=f"dpo {next(_names)}")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def add_customer(workspace, key, email, phone, country):
    customer = Entity.objects.get(workspace=workspace, key="customer")
    execute(sql.SQL("INSERT INTO {} (customer_id, email, phone, country, first_name) VALUES (%s, %s, %s, %s, 'X')")
            .format(ddl.table(customer)), [key, email, phone, country])


def lookup(workspace, client=None, **params):
    return (client or admin_api(workspace)).get(f"/api/v1/workspaces/{workspace.slug}/profiles/lookup/", params)


def test_the_privacy_page_finds_a_profile_by_email_or_phone(workspace, travel, alice, client_for):
    client = client_for(alice)
    for typed in ("  ANNA@example.test ", "+31 6 1234 5678", "0031612345678"):
        page = client.get(f"/w/{workspace.slug}/privacy/", {"key": typed}).content.decode()
        assert "<strong>Profile 1</strong>" in page, typed
        assert f'href="/w/{workspace.slug}/privacy/1/export/"' in page
    page = client.get(f"/w/{workspace.slug}/privacy/", {"key": "nobody@example.test"}).content.decode()
    assert 'id="dsr-missing"' in page and "Profile 1" not in page
    page = client.get(f"/w/{workspace.slug}/privacy/", {"key": "06 12345678"}).content.decode()
    # a national number needs a country: the workspace has no default region for SMS
    assert 'id="dsr-invalid"' in page and "without a country" in page


def test_one_address_of_several_profiles_lists_their_keys(workspace, travel, alice, client_for):
    # given a second profile with Anna's email (other case, spaces) and a third with her
    # phone written nationally in her country
    add_customer(workspace, 4, " Anna@Example.test ", "", "NL")
    add_customer(workspace, 5, "someone@example.test", "06-1234 5678", "NL")
    # then the page lists them, linking each
    page = client_for(alice).get(f"/w/{workspace.slug}/privacy/", {"key": "anna@example.test"}).content.decode()
    assert 'id="dsr-ambiguous"' in page and "2 profiles have the email" in page
    assert f'href="/w/{workspace.slug}/privacy/?key=1"' in page and f'href="/w/{workspace.slug}/privacy/?key=4"' in page
    assert "<strong>Profile" not in page
    # and the API answers a 409 naming the keys
    response = lookup(workspace, email="anna@example.test")
    assert response.status_code == 409
    assert response.json() == {"detail": "2 profiles have the email anna@example.test: 1, 4. Choose one by its key.",
                               "keys": ["1", "4"], "more": False}
    response = lookup(workspace, phone="+31612345678")
    assert (response.status_code, response.json()["keys"]) == (409, ["1", "5"])
    # a single match is the key
    assert lookup(workspace, phone="+33 6 12 34 56 78").json() == {"key": "3"}
    assert lookup(workspace, email="ben@example.test").json() == {"key": "2"}


def test_the_lookup_api_refuses_bad_input_and_other_workspaces(workspace, other_workspace, travel):
    make_travel_model(other_workspace, rows=False)
    own, other = admin_api(workspace), admin_api(other_workspace)
    lookup(workspace, own, email="ben@example.test")  # the keys' first use is recorded
    lookup(other_workspace, other, email="ben@example.test")
    before = database_digest()
    assert lookup(workspace, own).status_code == 400
    assert lookup(workspace, own, email="a@b.test", phone="+31612345678").status_code == 400
    response = lookup(workspace, own, phone="+12")
    assert response.status_code == 400 and "not a valid phone number" in response.json()["phone"][0]
    assert lookup(workspace, own, email="not-an-address").status_code == 400
    assert lookup(workspace, own, email="nobody@example.test").status_code == 404
    # Anna's email under another workspace's key and slug: nothing
    assert lookup(other_workspace, other, email="anna@example.test").status_code == 404
    assert lookup(workspace, other, email="anna@example.test").status_code == 404
    assert database_digest() == before
