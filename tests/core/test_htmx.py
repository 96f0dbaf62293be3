"""The HTMX helpers every app's screens share (apps/core/htmx.py)."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from apps.core import htmx


def request(*, htmx_request: bool, target: str | None = None):
    headers = {}
    if htmx_request:
        headers["HX-Request"] = "true"
        if target:
            headers["HX-Target"] = target
    req = RequestFactory().post("/w/northwind/x/", headers=headers)
    req.htmx = HtmxDetails(req)
    return req


def test_go_is_an_hx_redirect_with_204_for_htmx_and_a_302_otherwise():
    response = htmx.go(request(htmx_request=True), "/w/northwind/campaigns/7/?node=start")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/w/northwind/campaigns/7/?node=start"
    assert "Location" not in response and response.content == b""
    response = htmx.go(request(htmx_request=False), "/w/northwind/campaigns/7/")
    assert response.status_code == 302
    assert response["Location"] == "/w/northwind/campaigns/7/"
    assert "HX-Redirect" not in response


def test_the_target_and_the_partial_name_follow_the_request():
    assert htmx.htmx_target(request(htmx_request=True, target="editor")) == "editor"
    assert htmx.htmx_target(request(htmx_request=False)) is None
    assert htmx.partial_name(request(htmx_request=True), "a/page.html", "panel") == "a/page.html#panel"
    assert htmx.partial_name(request(htmx_request=False), "a/page.html", "panel") == "a/page.html"


@pytest.fixture
def rendered(monkeypatch):
    calls = []

    def fake_render(req, name, context, status=200):
        calls.append((name, status))
        return HttpResponse(status=status)

    monkeypatch.setattr(htmx, "render", fake_render)
    return calls


def test_render_partial_gives_htmx_the_partial_and_its_status_and_a_plain_form_the_page(rendered):
    response = htmx.render_partial(request(htmx_request=True), "a/page.html", "panel", {}, status=422,
                                   trigger="thingChanged")
    assert rendered[-1] == ("a/page.html#panel", 422) and response["HX-Trigger"] == "thingChanged"
    response = htmx.render_partial(request(htmx_request=False), "a/page.html", "panel", {}, status=422)
    assert rendered[-1] == ("a/page.html", 200) and "HX-Trigger" not in response


def test_render_region_gives_the_partial_only_to_a_request_aimed_at_one_of_the_regions(rendered):
    regions = ("head", "status")
    htmx.render_region(request(htmx_request=True, target="status"), "a/page.html", {}, regions, status=422)
    htmx.render_region(request(htmx_request=True, target="elsewhere"), "a/page.html", {}, regions)
    htmx.render_region(request(htmx_request=False), "a/page.html", {}, regions, status=422)
    assert rendered == [("a/page.html#status", 422), ("a/page.html", 200), ("a/page.html", 200)]


class NameForm(forms.Form):
    name = forms.CharField()
    security = forms.CharField()


def test_a_service_error_lands_on_its_field_or_on_the_form():
    form = NameForm({"name": "x", "security": "y"})
    form.is_valid()
    htmx.add_errors(form, ValidationError({"name": "Taken.", "use_ssl": "No.", "quota": "Over."}),
                    fields={"use_ssl": "security"})
    assert form.errors == {"name": ["Taken."], "security": ["No."], "__all__": ["Over."]}
    form = NameForm({"name": "x", "security": "y"})
    form.is_valid()
    htmx.add_errors(form, ValidationError(["One.", "Two."]))
    assert form.errors == {"__all__": ["One.", "Two."]}
