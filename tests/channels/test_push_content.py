"""Push content: every field is a template (data values and per-platform overrides
included), checked at save with the field named, rendered per recipient when sent."""

from __future__ import annotations

import pytest

from apps.channels import content as content_mod
from tests.channels.test_push_sending import (  # noqa: F401 - fixtures
    BUNDLE,
    CONTENT,
    Browser,
    _register,
    _send,
    apns_key,
    apns_sink,
    fcm_sink,
    push_settings,
    service_account_key,
    web_sink,
)


def test_data_values_and_overrides_are_personalized_for_each_recipient(workspace, travel, push_settings, web_sink,
                                                                       fcm_sink, apns_sink, queue, sends):
    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna"))
    _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    _register(workspace, "3", "ios", token="cd" * 32, app_id=BUNDLE)
    content = {**CONTENT, "data": {"country": "{{ profile.country }}", "n": 3},
               "overrides": {"ios": {"title": "Trips for {{ profile.first_name }}"},
                             "web": {"url": "https://travel.test/{{ profile.country|lower }}"}}}
    _send(workspace, queue, sends, {"content": content})
    web = browser.decrypt(web_sink.requests[0].body)
    assert (web["title"], web["url"], web["data"]) == ("Hello Anna", "https://travel.test/nl",
                                                       {"country": "NL", "n": "3"})
    fcm = fcm_sink.requests[0].json()["message"]
    assert fcm["notification"]["title"] == "Hello Ben" and fcm["data"]["country"] == "DE"
    apns = apns_sink.requests[0].json()
    assert apns["aps"]["alert"] == {"title": "Trips for Chloe", "body": "Offers for FR"}
    assert apns["country"] == "FR"


@pytest.mark.parametrize("extra,field", [
    ({"data": {"offer": "{{ profile.shoe_size }}"}}, "data.offer"),
    ({"data": {"offer": "{{ profile.first_name "}}, "data.offer"),
    ({"overrides": {"ios": {"title": "{{ profile.shoe_size }}"}}}, "overrides.ios.title"),
    ({"overrides": {"android": {"text": "{% if %}"}}}, "overrides.android.text"),
    ({"overrides": {"web": {"url": "{{ nobody }}"}}}, "overrides.web.url"),
])
def test_nested_templates_are_checked_against_the_model_with_their_path(workspace, travel, extra, field):
    from apps.datamodel.schema import Schema

    schema = Schema.load(workspace)
    customer = schema.entities["customer"]
    names = content_mod.model_names(schema, customer, customer)
    problems = content_mod.problems("push", {**CONTENT, **extra}, names)
    assert [p.field for p in problems] == [field], problems


def test_a_publish_check_names_the_nested_field(workspace, travel):
    from apps.campaigns.activities import SettingsError
    from apps.channels.activities import Push
    from apps.datamodel.schema import Schema

    schema = Schema.load(workspace)
    settings = {"content": {**CONTENT, "overrides": {"ios": {"text": "{{ profile.shoe_size }}"}}}}
    with pytest.raises(SettingsError, match=r"overrides\.ios\.text, line 1: profile has no attribute 'shoe_size'"):
        Push().publish_check(settings, ["customer"], schema)
