"""Web security: the Content-Security-Policy on every page, and quiet logs for expected
403s (no traceback for a permission the user simply does not have)."""

import json
import logging
import re

import pytest
from django.test import Client

from tests.factories import make_api_key

STRICT = {"default-src": "'self'", "script-src": "'self'", "object-src": "'none'", "style-src": "'self'",
          "img-src": "'self' data:", "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'"}


def policy(response) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    parts = [p.strip().split(" ", 1) for p in response["Content-Security-Policy"].split(";")]
    return {name: sources for name, sources in parts}


def _tracebacks(caplog):
    return [r for r in caplog.records if r.exc_info or r.exc_text]


def test_a_forbidden_page_logs_one_line_without_a_traceback(workspace, bob, client_for, caplog):
    caplog.set_level(logging.INFO)
    # when bob (viewer) opens a page for workspace admins
    response = client_for(bob).get(f"/w/{workspace.slug}/api-keys/")
    # then
    assert response.status_code == 403
    assert _tracebacks(caplog) == []
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("django")] == [
        ("django.request", "WARNING", f"Forbidden (Permission denied): /w/{workspace.slug}/api-keys/")]


def test_a_forbidden_api_call_logs_one_line_without_a_traceback(workspace, caplog):
    caplog.set_level(logging.INFO)
    _, raw = make_api_key(workspace, role="viewer", name="reader")
    response = Client().post(f"/api/v1/workspaces/{workspace.slug}/api-keys/", {"name": "x", "role": "viewer"},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
    assert _tracebacks(caplog) == []
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("django")] == [
        ("django.request", "WARNING", f"Forbidden: /api/v1/workspaces/{workspace.slug}/api-keys/")]


def test_an_unexpected_error_still_logs_its_traceback(workspace, alice, client_for, caplog, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("apps.tenants.views.workspaces.render", boom)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.get(f"/w/{workspace.slug}/")
    assert response.status_code == 500
    assert [r.exc_info[0] for r in _tracebacks(caplog)] == [RuntimeError]


@pytest.mark.parametrize("path", ["/accounts/login/", "/w/northwind/", "/w/northwind/no-such-page/"])
def test_pages_carry_a_strict_content_security_policy(path, alice, client_for):
    client = Client() if path.startswith("/accounts/") else client_for(alice)
    response = client.get(path)
    if path.endswith("no-such-page/"):
        assert response.status_code == 404
        assert policy(response) == STRICT
        return
    assert response.status_code == 200
    assert policy(response) == STRICT


def test_htmx_is_told_not_to_inject_its_indicator_style(alice, client_for):
    html = client_for(alice).get("/w/northwind/").content.decode()
    config = json.loads(re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1))
    assert config["includeIndicatorStyles"] is False


def test_the_template_editor_lets_email_previews_keep_their_inline_styles_only(alice, client_for):
    # the preview is a sandboxed srcdoc frame, which inherits the page's policy
    response = client_for(alice).get("/w/northwind/templates/new/")
    assert response.status_code == 200
    assert policy(response) == {**STRICT, "style-src": "'self' 'unsafe-inline'"}


def test_the_api_docs_run_no_inline_script(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert policy(response) == {**STRICT, "style-src": "'self' 'unsafe-inline'"}
    html = response.content.decode()
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">',
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js">',
        '<script src="/api/docs/?script=">']
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_diagram_file_admits_exactly_its_own_stylesheet(alice, workspace, client_for):
    import base64
    import hashlib

    from tests.factories import make_travel_model

    make_travel_model(workspace, rows=False)

    response = client_for(alice).get("/w/northwind/data/model.svg")
    assert response.status_code == 200
    svg = response.content.decode()
    css = re.search(r"<style>(.*?)</style>", svg, re.S).group(1)
    assert ".erd-box {" in css
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert policy(response) == {**STRICT, "style-src": f"'self' 'sha256-{digest}'"}
    # the page draws the same diagram without a style element: app.css imports erd.css
    page = client_for(alice).get("/w/northwind/data/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="erd"' in page
    assert "<style" not in page


def test_recipients_pages_are_strict_and_styled_from_a_file(workspace):
    from apps.consent import links
    from apps.consent.models import Topic

    Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email")
    token = links.make_token(workspace_id=workspace.pk, profile_key="1", channel="email", topic="newsletter")
    for path in (f"/u/{token}", f"/p/{token}"):
        response = Client().get(path)
        assert response.status_code == 200, path
        assert policy(response) == STRICT
        html = response.content.decode()
        assert "<style" not in html and "style=" not in html
        assert '<link rel="stylesheet" href="/static/css/public.css">' in html
