"""The agency over the API: client workspaces created, branded, archived and restored by
agency owners and admins; nobody else, and no API key (a key reaches one workspace)."""

from rest_framework.test import APIClient

from apps.tenants.models import Workspace
from tests.factories import make_api_key


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_owner_creates_brands_archives_and_restores_a_client_over_the_api(alice, workspace):
    org = workspace.organization.slug
    client = _client(alice)
    created = client.post("/api/v1/workspaces/", {"organization": org, "name": "Acme Outdoor", "slug": "acme-outdoor",
                                                  "time_zone": "Europe/Paris", "public_url": "https://go.acme.test"},
                          format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["public_url"] == "https://go.acme.test" and created.json()["slug"] == "acme-outdoor"
    taken = client.post("/api/v1/workspaces/", {"organization": org, "name": "X", "slug": "acme-outdoor"},
                        format="json")
    assert taken.status_code == 400 and "slug" in taken.json()
    bad = client.post("/api/v1/workspaces/", {"organization": org, "name": "X", "slug": "x-ws", "time_zone": "Mars"},
                      format="json")
    assert bad.status_code == 400 and "time_zone" in bad.json()
    patched = client.patch("/api/v1/workspaces/acme-outdoor/", {"brand_color": "#112233"}, format="json")
    assert patched.status_code == 200 and patched.json()["brand_color"] == "#112233"
    assert client.patch("/api/v1/workspaces/acme-outdoor/", {"brand_color": "blue"}, format="json").status_code == 400
    archived = client.post(f"/api/v1/organizations/{org}/workspaces/acme-outdoor/archive/")
    assert archived.status_code == 200 and archived.json()["archived_at"]
    restored = client.post(f"/api/v1/organizations/{org}/workspaces/acme-outdoor/restore/")
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    assert client.post(f"/api/v1/organizations/{org}/workspaces/acme-outdoor/delete/").status_code == 404


def test_outsiders_members_and_api_keys_cannot(alice, bob, charlie, workspace, other_workspace):
    org = workspace.organization.slug
    body = {"organization": org, "name": "Pwned", "slug": "pwned"}
    assert _client(charlie).post("/api/v1/workspaces/", body, format="json").status_code == 404
    assert _client(bob).post("/api/v1/workspaces/", body, format="json").status_code == 403
    _, secret = make_api_key(workspace, role="admin")
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert keyed.post("/api/v1/workspaces/", body, format="json").status_code == 404
    assert keyed.post(f"/api/v1/organizations/{org}/workspaces/northwind/archive/").status_code == 404
    assert _client(charlie).post(f"/api/v1/organizations/{org}/workspaces/northwind/archive/").status_code == 404
    theirs = other_workspace.organization.slug
    assert _client(charlie).post(f"/api/v1/organizations/{theirs}/workspaces/northwind/archive/").status_code == 404
    assert not Workspace.objects.filter(slug="pwned").exists()
    workspace.refresh_from_db()
    assert workspace.archived_at is None
