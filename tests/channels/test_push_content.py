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


def test_data_values_and_overrides_are_personalized_for_each_recipient(workspace, travel, push_settings, web_sink,  # noqa: F811
                                                                       fcm_sink, apns_sink, queue, sends):  # noqa: F811
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


# --- the template editor ---

from apps.channels.models import ContentTemplate  # noqa: E402
from tests.channels.test_templates_views import HX, url  # noqa: E402


def push_post(**fields):
    return {"name": "Offer", "channel": "push", "entity_key": "", "title": "Hello {{ profile.first_name }}",
            "push_text": "Offers for {{ profile.country }}", **fields}


def test_a_push_template_keeps_every_field_and_shows_it_back(workspace, travel, mallory, client_for):
    client = client_for(mallory)
    response = client.post(url("tpl-new", workspace), push_post(
        url="https://travel.test/{{ profile.country|lower }}", image_url="https://img.travel.test/a.jpg", ttl="600",
        collapse_key="spring", data_key_0="offer", data_value_0="{{ profile.first_name }}-10", data_key_1="",
        data_value_1="", override_ios_title="Trips for {{ profile.first_name }}", override_web_text="On the web"))
    assert response.status_code == 302, response.content.decode()[:3000]
    template = ContentTemplate.objects.get(workspace=workspace)
    assert template.content == {
        "title": "Hello {{ profile.first_name }}", "text": "Offers for {{ profile.country }}",
        "url": "https://travel.test/{{ profile.country|lower }}", "image_url": "https://img.travel.test/a.jpg",
        "ttl": "600", "collapse_key": "spring", "data": {"offer": "{{ profile.first_name }}-10"},
        "overrides": {"web": {"text": "On the web"}, "ios": {"title": "Trips for {{ profile.first_name }}"}}}
    page = client.get(response["Location"]).content.decode()
    assert 'name="data_key_0" value="offer"' in page and 'name="data_key_2"' in page  # two empty rows more
    assert 'value="Trips for {{ profile.first_name }}"' in page and 'id="push-overrides" open' in page


def test_saving_keeps_override_fields_the_editor_does_not_show(workspace, travel, mallory, client_for):
    template = ContentTemplate.objects.create(workspace=workspace, name="Offer", channel="push", content={
        "title": "x", "text": "y", "overrides": {"android": {"url": "app://offers", "title": "old"}}})
    response = client_for(mallory).post(url("tpl-edit", workspace, pk=template.pk), push_post(
        override_android_title="new"))
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.content["overrides"] == {"android": {"url": "app://offers", "title": "new"}}


@pytest.mark.parametrize("fields,problem", [
    ({"data_key_0": "offer", "data_value_0": "{{ profile.shoe_size }}"}, 'data-field="data.offer"'),
    ({"data_key_0": "", "data_value_0": "orphan"}, 'data-field="data"'),
    ({"data_key_0": "google.x", "data_value_0": "1"}, 'data-field="data"'),
    ({"override_android_text": "{{ profile.shoe_size }}"}, 'data-field="overrides.android.text"'),
    ({"ttl": "tomorrow"}, 'data-field="ttl"'),
    ({"collapse_key": "a b"}, 'data-field="collapse_key"'),
    ({"title": "{{ profile.first_name"}, 'data-field="title"'),
])
def test_a_push_template_with_a_problem_is_refused_naming_the_field(workspace, travel, mallory, client_for,
                                                                   fields, problem):
    response = client_for(mallory).post(url("tpl-new", workspace), push_post(**fields))
    assert response.status_code == 422
    assert problem in response.content.decode()
    assert not ContentTemplate.objects.exists()


def test_the_live_preview_shows_a_card_per_platform_with_the_overrides(workspace, travel, mallory, client_for):
    page = client_for(mallory).post(url("tpl-push-preview", workspace), push_post(
        override_ios_title="On iOS", data_key_0="offer", data_value_0="spring"), **HX).content.decode()
    assert page.count('class="push-card ') == 3
    web, android, ios = page.split('data-platform="')[1:]
    assert "Hello {{ profile.first_name }}" in web and "Hello {{ profile.first_name }}" in android
    assert '<strong class="push-title" data-field="title">On iOS</strong>' in ios
    assert "<code>offer=spring</code>" in web


def test_the_panel_fields_feed_the_live_preview(workspace, travel, mallory, client_for):
    page = client_for(mallory).post(url("tpl-push-preview", workspace), {
        "cfg-node_id": "push", "cfg-title": "Panel title", "cfg-text": "Body", "cfg-override_web_title": "Web!"},
        **HX).content.decode()
    assert ">Web!</strong>" in page and page.count(">Panel title</strong>") == 2


def test_the_record_preview_renders_every_field_for_the_record(workspace, travel, mallory, client_for):
    page = client_for(mallory).post(url("tpl-preview", workspace), {**push_post(
        override_android_text="Android: {{ profile.city|default('x') }}", data_key_0="who",
        data_value_0="{{ profile.first_name }}"), "preview-key": "2"}, **HX).content.decode()
    assert 'id="preview-push-cards"' in page and page.count(">Hello Ben</strong>") == 3
    assert "<code>who=Ben</code>" in page and "Offers for DE" in page and "Android: " in page


# --- the canvas side panel ---

import json  # noqa: E402

from apps.campaigns import services as campaign_services  # noqa: E402
from tests.channels.test_templates_views import DEFINITION, _mail_settings  # noqa: E402


def _push_campaign(workspace, settings):
    definition = json.loads(json.dumps(DEFINITION).replace('"type": "email"', '"type": "push"'))
    next(n for n in definition["nodes"] if n["id"] == "mail")["settings"] = settings
    return definition, campaign_services.campaign_create(workspace=workspace, actor=None, name="Pushes",
                                                         definition=definition)


def _configure(client, workspace, campaign, definition, fields):
    return client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(definition), "cfg-node_id": "mail",
        "cfg-label": "", **fields}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")


def test_the_push_panel_edits_every_content_field_and_keeps_what_it_does_not_show(workspace, travel, mallory,
                                                                                  client_for):
    from apps.consent.models import RuleSet, Topic

    Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="push", policy="opt_in")
    rules = RuleSet.objects.create(workspace=workspace, name="Max 2 a week")
    before = {"content": {"title": "Old", "text": "Old body", "data": {"offer": "spring", "n": 3},
                          "overrides": {"ios": {"url": "app://offers", "title": "iOS title"}}},
              "note": {"kept": True}}
    definition, campaign = _push_campaign(workspace, before)
    client = client_for(mallory)
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    # the panel shows every field, the data rows, the overrides and the live preview
    for name in ("cfg-title", "cfg-text", "cfg-url", "cfg-image_url", "cfg-ttl", "cfg-collapse_key",
                 "cfg-push_devices", "cfg-track_clicks", "cfg-topic", "cfg-category", "cfg-rule_set_id"):
        assert f'name="{name}"' in panel, name
    # (jsonb keeps an object's keys shortest first)
    assert 'name="cfg-data_key_0" value="n"' in panel and 'name="cfg-data_value_1" value="spring"' in panel
    assert 'name="cfg-data_key_3"' in panel and 'value="iOS title"' in panel
    assert 'id="push-preview"' in panel and "/templates/push-preview/" in panel
    response = _configure(client, workspace, campaign, definition, {
        "cfg-title": "Hi {{ profile.first_name }}", "cfg-text": "New body", "cfg-url": "https://travel.test/x",
        "cfg-image_url": "", "cfg-ttl": "3600", "cfg-collapse_key": "spring", "cfg-push_devices": "newest",
        "cfg-data_key_0": "offer", "cfg-data_value_0": "{{ profile.country }}", "cfg-data_key_1": "",
        "cfg-data_value_1": "", "cfg-data_key_2": "", "cfg-data_value_2": "", "cfg-data_key_3": "",
        "cfg-data_value_3": "",
        "cfg-override_ios_title": "", "cfg-override_android_text": "On Android",
        "cfg-category": "transactional", "cfg-topic": "offers", "cfg-rule_set_id": str(rules.pk)})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert _mail_settings(campaign) == {
        "content": {"title": "Hi {{ profile.first_name }}", "text": "New body", "url": "https://travel.test/x",
                    "ttl": "3600", "collapse_key": "spring", "data": {"offer": "{{ profile.country }}"},
                    "overrides": {"ios": {"url": "app://offers"}, "android": {"text": "On Android"}}},
        "push_devices": "newest", "category": "transactional", "topic": "offers", "rule_set_id": rules.pk,
        "note": {"kept": True}, "track_clicks": False}


def test_a_push_panel_with_a_problem_names_the_field_and_saves_nothing(workspace, travel, mallory, client_for):
    definition, campaign = _push_campaign(workspace, {"content": {"title": "Old", "text": "Old"}})
    response = _configure(client_for(mallory), workspace, campaign, definition, {
        "cfg-title": "x", "cfg-text": "y", "cfg-ttl": "soon", "cfg-collapse_key": "a b"})
    page = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_cfg-ttl_error"' in page and 'id="id_cfg-collapse_key_error"' in page
    assert _mail_settings(campaign) == {"content": {"title": "Old", "text": "Old"}}


def test_a_nested_template_problem_shows_on_the_canvas_with_its_path(workspace, travel, mallory, client_for):
    definition, campaign = _push_campaign(workspace, {"content": {"title": "Old", "text": "Old"}})
    response = _configure(client_for(mallory), workspace, campaign, definition, {
        "cfg-title": "x", "cfg-text": "y", "cfg-override_web_title": "{{ profile.shoe_size }}"})
    assert response.status_code == 200
    assert "overrides.web.title, line 1: profile has no attribute &#x27;shoe_size&#x27;" in response.content.decode()


# --- test runs ---

from django.urls import reverse  # noqa: E402


def _test_run(workspace, settings, channel="push"):
    from apps.campaigns import executor
    from tests.channels.test_sending import live_run

    live = live_run(workspace, settings=settings, channel=channel)  # only for its campaign and version
    live.delete()
    return executor.run_create(campaign=live.campaign, version=live.version, mode="test")


def test_a_test_run_counts_devices_profiles_and_platforms_and_renders_samples(
        workspace, travel, push_settings, web_sink, queue, mallory, client_for):  # noqa: F811
    from apps.campaigns.models import ActivityRun
    from apps.channels.models import Delivery, PushSubscription
    from tests.factories import make_api_key

    anna_web = _register(workspace, "1", "web", subscription=Browser().subscription(f"{web_sink.url}/push/anna"))
    anna_phone = _register(workspace, "1", "android", token="anna-fcm-token-0123456789abcdef")
    _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    gone = _register(workspace, "3", "ios", token="ab" * 32, app_id=BUNDLE)
    PushSubscription.objects.filter(pk=gone.pk).update(active=False)  # Chloe's only device is gone
    content = {**CONTENT, "data": {"who": "{{ profile.first_name }}"},
               "overrides": {"android": {"title": "Android: {{ profile.first_name }}"}}}
    run = _test_run(workspace, {"content": content})
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.status == "done", activity.error
    report = activity.report
    # push recipients are counted by active subscriptions: one message per device
    assert report["recipients"] == 3 and report["excluded"] == {"no_address": 1}
    assert report["push"] == {"devices": 3, "profiles": 2, "by_platform": {"android": 2, "web": 1}}
    samples = report["samples"]
    assert [(s["address"], s["platform"]) for s in samples] == sorted(
        [(str(anna_web.pk), "web"), (str(anna_phone.pk), "android")], key=lambda x: int(x[0])) + [
        (str(PushSubscription.objects.get(profile_key="2").pk), "android")]
    by_platform = {(s["platform"], s["note"]["title"]) for s in samples}
    assert by_platform == {("web", "Hello Anna"), ("android", "Android: Anna"), ("android", "Android: Ben")}
    assert {s["note"]["data"]["who"] for s in samples} == {"Anna", "Ben"}
    assert not Delivery.objects.filter(run=run).exists()
    # the run page shows the counts and the samples
    page = client_for(mallory).get(reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk}))
    html = page.content.decode()
    assert '<dd data-count="push-profiles">2</dd>' in html and '<dd data-count="push-android">2</dd>' in html
    assert '<dd data-count="push-web">1</dd>' in html and "Android (FCM)" in html
    assert 'id="samples-mail"' in html and ">Android: Ben</strong>" in html and "<code>who=Ben</code>" in html
    # and so does the API
    from django.test import Client

    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_api_key(workspace, role='viewer', name='reader')[1]}")
    body = api.get(reverse("api-camp-run-detail", kwargs={"workspace_slug": workspace.slug, "pk": run.pk})).json()
    mail = next(a for a in body["activities"] if a["node_id"] == "mail")
    assert mail["report"]["push"] == report["push"] and len(mail["report"]["samples"]) == 3


def test_the_newest_device_only_counts_one_device_per_profile(workspace, travel, push_settings, web_sink, queue):  # noqa: F811
    from apps.campaigns.models import ActivityRun

    _register(workspace, "1", "web", subscription=Browser().subscription(f"{web_sink.url}/push/anna"))
    _register(workspace, "1", "android", token="anna-fcm-token-0123456789abcdef")
    run = _test_run(workspace, {"content": CONTENT, "push_devices": "newest"})
    queue()
    report = ActivityRun.objects.get(run=run, node_id="mail").report
    assert report["push"] == {"devices": 1, "profiles": 1, "by_platform": {"android": 1}}


# --- proofs ---

def test_a_push_proof_goes_to_every_active_device_of_the_chosen_profile(
        workspace, travel, push_settings, web_sink, fcm_sink, mallory, client_for, sends):  # noqa: F811
    from apps.channels.models import Delivery

    browser = Browser()
    _register(workspace, "1", "web", subscription=browser.subscription(f"{web_sink.url}/push/anna"))
    _register(workspace, "1", "android", token="anna-fcm-token-0123456789abcdef")
    _register(workspace, "2", "android", token="ben-fcm-token-0123456789abcdef")
    response = client_for(mallory).post(url("tpl-proof", workspace), {
        **push_post(override_android_title="Android {{ profile.first_name }}"), "proof-addresses": "1"}, **HX)
    assert response.status_code == 202, response.content.decode()
    assert "Proof queued to 2 devices, title marked [PROOF]" in response.content.decode()
    assert Delivery.objects.get(workspace=workspace).proof
    sends()
    assert browser.decrypt(web_sink.requests[0].body)["title"] == "[PROOF] Hello Anna"
    [fcm] = [r.json()["message"] for r in fcm_sink.requests if r.path.endswith(":send")]
    assert fcm["token"] == "anna-fcm-token-0123456789abcdef"
    assert fcm["notification"]["title"] == "[PROOF] Android Anna"


def test_a_push_proof_to_a_profile_without_devices_is_refused(workspace, travel, push_settings, mallory,  # noqa: F811
                                                              client_for):
    from apps.channels.models import Delivery

    response = client_for(mallory).post(url("tpl-proof", workspace), {**push_post(), "proof-addresses": "3"}, **HX)
    assert "none of these profiles has an active push device" in response.content.decode()
    assert not Delivery.objects.exists()


def test_a_viewer_sees_a_push_template_with_its_cards_and_no_live_requests(workspace, travel, bob, client_for):
    template = ContentTemplate.objects.create(workspace=workspace, name="Offer", channel="push", content={
        "title": "Spring deals", "text": "Now", "overrides": {"ios": {"title": "On iOS"}}})
    page = client_for(bob).get(url("tpl-edit", workspace, pk=template.pk)).content.decode()
    assert '<strong class="push-title" data-field="title">On iOS</strong>' in page
    assert page.count(">Spring deals</strong>") == 2
    assert "/templates/push-preview/" not in page and "/templates/sms-count/" not in page
