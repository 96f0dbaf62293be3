"""The template screens (list, editor with live check, preview and proofs) and the side
panel of channel activities on the campaign canvas."""

import json

import pytest
from django.urls import reverse

from apps.campaigns import services as campaign_services
from apps.channels.models import ContentTemplate, Delivery

HX = {"HTTP_HX_REQUEST": "true"}
CONTENT = {"subject": "Hello {{ profile.first_name }}", "html": "<p>Dear {{ profile.first_name }},</p>"}


def url(name, workspace, **kwargs):
    return reverse(name, kwargs={"workspace_slug": workspace.slug, **kwargs})


@pytest.fixture
def template(workspace, travel):
    return ContentTemplate.objects.create(workspace=workspace, name="Welcome", channel="email", content=CONTENT)


def editor_post(**fields):
    return {"name": "Welcome", "channel": "email", "entity_key": "", "page_size": "A4", **fields}


def test_the_list_shows_the_templates_and_filters_by_channel(workspace, template, bob, client_for):
    ContentTemplate.objects.create(workspace=workspace, name="Letter", channel="direct_mail", content={"html": "x"})
    page = client_for(bob).get(url("tpl-list", workspace)).content.decode()
    assert "Welcome" in page and "Letter" in page and 'id="new-template"' not in page  # a viewer writes nothing
    page = client_for(bob).get(url("tpl-list", workspace) + "?channel=direct_mail").content.decode()
    assert "Letter" in page and "Welcome" not in page


def test_a_marketer_writes_a_template_and_it_is_saved(workspace, travel, mallory, client_for):
    client = client_for(mallory)
    assert client.get(url("tpl-new", workspace)).status_code == 200
    response = client.post(url("tpl-new", workspace), editor_post(**CONTENT, text=""))
    assert response.status_code == 302
    template = ContentTemplate.objects.get(workspace=workspace)
    assert response["Location"] == url("tpl-edit", workspace, pk=template.pk)
    assert (template.name, template.channel, template.content) == ("Welcome", "email", CONTENT)
    assert template.created_by == mallory
    # the editor shows it back
    page = client.get(response["Location"]).content.decode()
    assert "Hello {{ profile.first_name }}" in page and 'id="template-save"' in page


def test_a_direct_mail_template_keeps_its_letter_fields(workspace, travel, mallory, client_for):
    response = client_for(mallory).post(url("tpl-new", workspace), {
        "name": "Letter", "channel": "direct_mail", "entity_key": "booking", "subject": "ignored",
        "html": "<p>{{ target.booking_id }}</p>", "css": "@page { margin: 2cm }", "page_size": "A5",
        "return_address": "Travel Co\nAmsterdam"})
    assert response.status_code == 302
    template = ContentTemplate.objects.get(workspace=workspace)
    assert template.entity_key == "booking"
    assert template.content == {"html": "<p>{{ target.booking_id }}</p>", "css": "@page { margin: 2cm }",
                                "page_size": "A5", "return_address": "Travel Co\nAmsterdam"}


def test_saving_a_template_with_problems_shows_them_with_their_line(workspace, template, mallory, client_for):
    response = client_for(mallory).post(url("tpl-edit", workspace, pk=template.pk), editor_post(
        subject="Hi", html="<p>ok</p>\n<p>{{ profile.nickname }}</p>"))
    assert response.status_code == 422
    page = response.content.decode()
    assert "<strong>html</strong>, line 2:" in page and "nickname" in page
    template.refresh_from_db()
    assert template.content == CONTENT


def test_the_live_check_lists_problems_and_says_when_there_are_none(workspace, travel, mallory, client_for):
    client = client_for(mallory)
    bad = client.post(url("tpl-check", workspace), editor_post(subject="{% if %}", html=""), **HX)
    assert bad.status_code == 200
    assert 'id="template-problems"' in bad.content.decode() and "<strong>subject</strong>, line 1" in \
        bad.content.decode()
    good = client.post(url("tpl-check", workspace), editor_post(**CONTENT), **HX).content.decode()
    assert 'id="template-ok"' in good and "<form" not in good  # only the region
    assert not ContentTemplate.objects.exists()


def test_the_preview_renders_a_record_in_a_sandboxed_frame(workspace, travel, mallory, client_for):
    response = client_for(mallory).post(url("tpl-preview", workspace), {
        **editor_post(subject="Hello {{ profile.first_name }}", html="<p>From {{ profile.city }}</p>"),
        "preview-key": "1"}, **HX)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<strong>Hello Anna</strong>' in page
    assert 'sandbox=""' in page and 'srcdoc="&lt;p&gt;From Amsterdam&lt;/p&gt;"' in page
    missing = client_for(mallory).post(url("tpl-preview", workspace), {**editor_post(**CONTENT),
                                                                        "preview-key": "42"}, **HX)
    assert "no customer with key &#x27;42&#x27;" in missing.content.decode()


def test_a_proof_is_sent_from_the_editor(workspace, travel, mallory, client_for, email_config, sink, sends):
    response = client_for(mallory).post(url("tpl-proof", workspace), {
        **editor_post(**CONTENT), "proof-addresses": "qa@example.test, boss@example.test", "proof-key": "2"}, **HX)
    assert response.status_code == 202, response.content.decode()
    assert "Proof queued to 2 addresses" in response.content.decode()
    delivery = Delivery.objects.get(workspace=workspace)
    assert delivery.proof and delivery.content["subject"] == "[PROOF] Hello {{ profile.first_name }}"
    sends()
    assert sorted(r.rcpt_tos[0] for r in sink.received()) == ["boss@example.test", "qa@example.test"]
    assert all(b"Subject: [PROOF] Hello Ben" in r.data for r in sink.received())


def test_a_viewer_sees_a_template_but_cannot_change_it(workspace, template, bob, client_for):
    client = client_for(bob)
    page = client.get(url("tpl-edit", workspace, pk=template.pk)).content.decode()
    assert "Welcome" in page and 'id="template-save"' not in page
    response = client.post(url("tpl-edit", workspace, pk=template.pk), editor_post(subject="x", html="y"))
    assert response.status_code == 403
    assert client.post(url("tpl-delete", workspace, pk=template.pk)).status_code == 403
    template.refresh_from_db()
    assert template.content == CONTENT


def test_delete_removes_the_template(workspace, template, mallory, client_for):
    response = client_for(mallory).post(url("tpl-delete", workspace, pk=template.pk))
    assert response.status_code == 302 and response["Location"] == url("tpl-list", workspace)
    assert not ContentTemplate.objects.exists()


# --- the side panel of channel activities ---

DEFINITION = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                        {"id": "nl", "type": "build_audience", "settings": {"definition": {
                            "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                        {"id": "mail", "type": "email", "settings": {"category": "marketing"}},
                        {"id": "end", "type": "end", "settings": {}}],
              "edges": [{"from": "start", "outlet": "out", "to": "nl"}, {"from": "nl", "outlet": "out", "to": "mail"},
                        {"from": "mail", "outlet": "out", "to": "end"}]}


def _mail_settings(campaign):
    definition = campaign_services.latest_version(campaign).definition
    return next(n for n in definition["nodes"] if n["id"] == "mail")["settings"]


def test_the_side_panel_of_an_email_stores_the_template_and_tracking(workspace, template, mallory, client_for):
    ContentTemplate.objects.create(workspace=workspace, name="Letter", channel="direct_mail", content={"html": "x"})
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Spring",
                                                 definition=DEFINITION)
    client = client_for(mallory)
    # the panel offers the workspace's email templates only
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    assert f'<option value="{template.pk}">Welcome</option>' in panel and "Letter" not in panel
    assert 'name="cfg-track_opens"' in panel and 'name="cfg-profile_link"' in panel
    # saving it with a template, an inline subject and clicks untracked
    response = client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(DEFINITION),
        "cfg-node_id": "mail", "cfg-label": "", "cfg-template": str(template.pk),
        "cfg-subject": "Spring offers for {{ profile.first_name }}", "cfg-track_opens": "on"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    assert response.status_code == 200, response.content.decode()[:3000]
    assert _mail_settings(campaign) == {
        "template_id": template.pk,
        "content": {"subject": "Spring offers for {{ profile.first_name }}"},
        "track_opens": True, "track_clicks": False}
    # and the panel shows them back
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    assert f'<option value="{template.pk}" selected>Welcome</option>' in panel
    assert "Spring offers for {{ profile.first_name }}" in panel


def test_the_side_panel_of_a_direct_mail_has_letter_fields(workspace, travel, mallory, client_for):
    letter = ContentTemplate.objects.create(workspace=workspace, name="Letter", channel="direct_mail",
                                            content={"html": "<p>{{ profile.last_name }}</p>"})
    definition = json.loads(json.dumps(DEFINITION).replace('"type": "email"', '"type": "direct_mail"'))
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Letters",
                                                 definition=definition)
    response = client_for(mallory).post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(definition), "cfg-node_id": "mail",
        "cfg-template": str(letter.pk), "cfg-page_size": "A5", "cfg-profile_link": ""},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    assert response.status_code == 200, response.content.decode()[:3000]
    assert 'name="cfg-track_opens"' not in response.content.decode()
    assert _mail_settings(campaign) == {"template_id": letter.pk, "content": {"page_size": "A5"}}


@pytest.mark.parametrize("channel, fields, content", [
    ("sms", {"cfg-text": "Hi {{ profile.first_name }}, your trip is ready"},
     {"text": "Hi {{ profile.first_name }}, your trip is ready"}),
    ("push", {"cfg-title": "Your trip", "cfg-text": "Ready, {{ profile.first_name }}"},
     {"title": "Your trip", "text": "Ready, {{ profile.first_name }}"}),
])
def test_the_side_panel_of_an_sms_or_push_edits_its_content_and_keeps_other_settings(
        workspace, travel, mallory, client_for, channel, fields, content):
    # given an activity whose settings were written in the JSON view
    definition = json.loads(json.dumps(DEFINITION).replace('"type": "email"', f'"type": "{channel}"'))
    mail = next(n for n in definition["nodes"] if n["id"] == "mail")
    mail["settings"] = {"content": {"text": "old"}, "category": "transactional", "note": {"kept": True}}
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Texts",
                                                 definition=definition)
    client = client_for(mallory)
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    assert 'name="cfg-text"' in panel and 'name="cfg-track_opens"' not in panel and "old" in panel
    # when the panel is saved
    response = client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(definition), "cfg-node_id": "mail",
        "cfg-label": "", "cfg-category": "transactional", **fields},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    # then its content is what was typed, the unticked 'Track clicks' box is saved as off, and
    # nothing else was wiped
    assert response.status_code == 200, response.content.decode()[:3000]
    assert _mail_settings(campaign) == {"content": content, "category": "transactional", "note": {"kept": True},
                                        "track_clicks": False}


def test_the_side_panel_chooses_the_category_topic_and_frequency_caps(workspace, template, mallory, client_for):
    from apps.consent.models import RuleSet, Topic

    Topic.objects.create(workspace=workspace, key="news", name="Newsletter", channel="email", policy="opt_in")
    Topic.objects.create(workspace=workspace, key="texts", name="Texts", channel="sms", policy="opt_in")
    rules = RuleSet.objects.create(workspace=workspace, name="Max 2 a week")
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Spring",
                                                 definition=DEFINITION)
    client = client_for(mallory)
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    assert "Newsletter (Opt-in" in panel and "Texts" not in panel and "Max 2 a week" in panel
    response = client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(DEFINITION), "cfg-node_id": "mail",
        "cfg-label": "", "cfg-template": str(template.pk), "cfg-category": "marketing", "cfg-topic": "news",
        "cfg-rule_set_id": str(rules.pk), "cfg-track_opens": "on", "cfg-track_clicks": "on"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    assert response.status_code == 200
    assert _mail_settings(campaign) == {"template_id": template.pk, "topic": "news", "rule_set_id": rules.pk,
                                        "track_opens": True, "track_clicks": True}
    response = client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(DEFINITION), "cfg-node_id": "mail",
        "cfg-label": "", "cfg-template": str(template.pk), "cfg-category": "transactional"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    assert _mail_settings(campaign)["category"] == "transactional"


def test_the_list_page_takes_a_fixed_number_of_queries(workspace, travel, bob, client_for,
                                                      django_assert_max_num_queries):
    for i in range(5):
        ContentTemplate.objects.create(workspace=workspace, name=f"T{i}", channel="email", content=CONTENT,
                                       created_by=bob)
    client = client_for(bob)
    client.get(url("tpl-list", workspace))
    with django_assert_max_num_queries(15):
        page = client.get(url("tpl-list", workspace)).content.decode()
    assert page.count('id="template-') == 5
