import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.tenants.models import ApiKey, AuditEvent
from tests.factories import make_api_key


def bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_key_reads_its_own_workspace(workspace):
    key, raw = make_api_key(workspace, role="viewer")
    response = bearer(raw).get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 200
    assert response.json()["slug"] == workspace.slug
    assert response.json()["role"] == "viewer"
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_key_gets_404_on_another_workspace_even_when_the_other_exists(workspace, other_workspace):
    _, raw = make_api_key(workspace, role="admin")
    for path in ("", "members/", "api-keys/", "audit-events/"):
        response = bearer(raw).get(f"/api/v1/workspaces/{other_workspace.slug}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}
    # and exactly the same answer as for a workspace that does not exist
    assert bearer(raw).get("/api/v1/workspaces/no-such-workspace/").json() == {"detail": "Not found."}


def test_the_workspace_list_of_a_key_is_its_own_workspace_only(workspace, other_workspace):
    _, raw = make_api_key(workspace)
    response = bearer(raw).get("/api/v1/workspaces/")
    assert [w["slug"] for w in response.json()] == [workspace.slug]


def test_a_revoked_key_gets_401(workspace):
    key, raw = make_api_key(workspace)
    key.revoked_at = timezone.now()
    key.save()
    response = bearer(raw).get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API key has been revoked."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_key_gets_401(workspace):
    key, raw = make_api_key(workspace, expires_at=timezone.now() + timedelta(seconds=30))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(raw).get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API key has expired."}


@pytest.mark.parametrize("header,message", [
    ("Bearer", "Malformed Authorization header: expected exactly 'Bearer <key>'."),
    ("Bearer a b", "Malformed Authorization header: expected exactly 'Bearer <key>'."),
    ("Token abc", "Unsupported Authorization scheme: send 'Authorization: Bearer <key>'."),
    ("Bearer orc_deadbeef_nope", "Invalid API key."),
    ("Bearer not-a-key", "Invalid API key."),
])
def test_malformed_or_unknown_keys_get_a_clear_401(workspace, header, message):
    response = Client(HTTP_AUTHORIZATION=header).get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401
    assert response.json() == {"detail": message}


def test_no_credentials_get_401_not_a_redirect(workspace):
    response = Client().get(f"/api/v1/workspaces/{workspace.slug}/")
    assert response.status_code == 401


def test_admin_creates_a_key_over_the_api_shown_once_and_stored_hashed(workspace):
    _, admin_raw = make_api_key(workspace, role="admin", name="ops")
    response = bearer(admin_raw).post(
        f"/api/v1/workspaces/{workspace.slug}/api-keys/",
        {"name": "CRM sync", "role": "marketer"}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    assert raw.startswith(f"orc_{body['prefix']}_")
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    # the list never shows it again
    listing = bearer(admin_raw).get(f"/api/v1/workspaces/{workspace.slug}/api-keys/").json()
    assert all("key" not in item for item in listing["results"])
    assert AuditEvent.objects.filter(workspace=workspace, verb="api_key.created", target_id=str(stored.pk)).count() == 1
    # and it works
    assert bearer(raw).get(f"/api/v1/workspaces/{workspace.slug}/").json()["role"] == "marketer"


def test_revoking_over_the_api_stops_the_key(workspace):
    _, admin_raw = make_api_key(workspace, role="admin", name="ops")
    key, raw = make_api_key(workspace, role="viewer", name="partner")
    response = bearer(admin_raw).delete(f"/api/v1/workspaces/{workspace.slug}/api-keys/{key.pk}/")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert bearer(raw).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 401


def test_key_creation_rejects_bad_input_with_field_errors(workspace):
    _, admin_raw = make_api_key(workspace, role="admin", name="ops")
    url = f"/api/v1/workspaces/{workspace.slug}/api-keys/"
    response = bearer(admin_raw).post(url, {"name": "x", "role": "emperor"}, content_type="application/json")
    assert response.status_code == 400
    assert "role" in response.json()
    response = bearer(admin_raw).post(url, {"name": "ops", "role": "viewer"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"name": ["An active key named 'ops' already exists."]}
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = bearer(admin_raw).post(url, {"name": "y", "expires_at": past}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"expires_at": ["The expiry must be in the future."]}


def test_members_over_the_api(workspace, bob, mallory):
    _, admin_raw = make_api_key(workspace, role="admin", name="ops")
    url = f"/api/v1/workspaces/{workspace.slug}/members/"
    members = {m["email"]: m["role"] for m in bearer(admin_raw).get(url).json()}
    assert members == {"bob@example.test": "viewer", "mallory@example.test": "marketer"}
    response = bearer(admin_raw).patch(f"{url}{bob.pk}/", {"role": "approver"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["role"] == "approver"
    assert bearer(admin_raw).delete(f"{url}{mallory.pk}/").status_code == 204
    members = {m["email"]: m["role"] for m in bearer(admin_raw).get(url).json()}
    assert members == {"bob@example.test": "approver"}


def test_openapi_schema_and_docs_are_served_offline(db):
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/workspaces/{workspace_slug}/api-keys/" in text
    assert "bearer" in text
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
