"""Error pages in the product's style: the 404 page also with DEBUG on (Django's
technical page otherwise), and a member's 403 keeps the workspace navigation."""

from __future__ import annotations

from django.test import override_settings


def test_404_is_the_products_page_with_debug_on_for_any_path_and_a_views_404(client_for, alice, workspace):
    client = client_for(alice)
    with override_settings(DEBUG=True):
        for path in ("/no-such-page/", f"/w/{workspace.slug}/campaigns/999999/", "/w/no-such-workspace/"):
            response = client.get(path)
            page = response.content.decode()
            assert response.status_code == 404, path
            assert "<h1>Page not found</h1>" in page and 'aria-label="Main"' in page, path
            assert "URLconf" not in page and "technical" not in page.lower(), path
        # the developer still learns why a view said 404
        page = client.get(f"/w/{workspace.slug}/campaigns/999999/").content.decode()
        assert 'id="debug-reason"' in page
        # a missing slash is still added first
        response = client.get(f"/w/{workspace.slug}/campaigns")
        assert (response.status_code, response["Location"]) == (301, f"/w/{workspace.slug}/campaigns/")
        # API paths keep their JSON
        response = client.get("/api/v1/no-such-endpoint/")
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    with override_settings(DEBUG=False):
        page = client.get(f"/w/{workspace.slug}/campaigns/999999/").content.decode()
        assert "<h1>Page not found</h1>" in page and 'id="debug-reason"' not in page


def test_a_members_403_keeps_the_workspace_navigation(client_for, bob, workspace):
    # bob is a viewer: the privacy page is for workspace admins
    response = client_for(bob).get(f"/w/{workspace.slug}/privacy/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in page and "This needs the workspace admin role or higher in Northwind." in page
    assert 'aria-label="Workspace"' in page and f'href="/w/{workspace.slug}/campaigns/"' in page
    assert 'class="badge role-viewer"' in page
