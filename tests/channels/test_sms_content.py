"""SMS content in the template editor: the live counter (encoding, the characters that
force UCS-2, segments against the workspace's limit, cost at its price per segment), the
record preview, saving with the problems named by field, and the outsider's view."""

import re

import pytest

from apps.channels.models import ChannelConfig, ContentTemplate
from tests.channels.test_templates_views import HX, url


def sms_post(**fields):
    return {"name": "Reminder", "channel": "sms", "entity_key": "", **fields}


@pytest.fixture
def sms_config(workspace):
    config = ChannelConfig(workspace=workspace, channel="sms", backend="twilio", options={
        "account": "AC" + "0" * 32, "sender": "+14155550100", "sender_kind": "number",
        "price_per_segment": 0.0075, "max_segments": 2})
    config.secret = "token"
    config.save()
    return config


def test_an_sms_template_is_saved_and_shown_back(workspace, travel, mallory, client_for):
    client = client_for(mallory)
    response = client.post(url("tpl-new", workspace), sms_post(sms_text="Hi {{ profile.first_name }}!",
                                                               text="email plain text is not SMS"))
    assert response.status_code == 302, response.content.decode()[:2000]
    template = ContentTemplate.objects.get(workspace=workspace)
    assert (template.channel, template.content) == ("sms", {"text": "Hi {{ profile.first_name }}!"})
    page = client.get(response["Location"]).content.decode()
    assert 'name="sms_text"' in page and "Hi {{ profile.first_name }}!" in page
    assert 'id="sms-count"' in page and 'data-encoding="GSM-7"' in page


def test_an_sms_template_naming_an_unknown_attribute_is_refused_naming_the_field(workspace, travel, mallory,
                                                                                client_for):
    response = client_for(mallory).post(url("tpl-new", workspace), sms_post(sms_text="Hi {{ profile.shoe_size }}"))
    assert response.status_code == 422
    page = response.content.decode()
    assert '<li data-field="text"><strong>text</strong>, line 1: profile has no attribute' in page
    assert not ContentTemplate.objects.exists()


@pytest.mark.parametrize("text,encoding,units,segments", [
    ("Hello Anna", "GSM-7", 10, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("Price: 10€ [x]", "GSM-7", 17, 1),  # € [ ] take two septets each
    ("Ciao ç", "UCS-2", 6, 1),  # ç is not GSM-7 (Ç is)
    ("Hi 😀" + "a" * 67, "UCS-2", 72, 2),  # the emoji is a surrogate pair
])
def test_the_live_counter_gives_encoding_units_and_segments(workspace, travel, mallory, client_for, text, encoding,
                                                             units, segments):
    response = client_for(mallory).post(url("tpl-sms-count", workspace), {"sms_text": text}, **HX)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-encoding="{encoding}"' in page and f'data-segments="{segments}"' in page
    assert f'<span data-count="units">{units}</span>' in page


def test_the_counter_names_the_characters_forcing_ucs2_and_the_cost_and_limit(workspace, travel, mallory,
                                                                             client_for, sms_config):
    client = client_for(mallory)
    page = client.post(url("tpl-sms-count", workspace), {"sms_text": "Große Reise ✈ jetzt"}, **HX).content.decode()
    assert 'id="sms-ucs2-chars"' in page and "<code title=\"U+2708\">✈</code>" in page
    assert "<code title=\"U+00DF\">" not in page  # ß is GSM-7
    assert "of 2 at most" in page and '<span data-count="cost">0.0075</span>' in page
    page = client.post(url("tpl-sms-count", workspace), {"sms_text": "✈" * 140}, **HX).content.decode()
    assert 'data-segments="3"' in page and 'id="sms-over-limit"' in page and "over the limit of 2" in page
    assert '<span data-count="cost">0.0225</span>' in page


def test_the_canvas_panel_posts_its_own_field_names_to_the_counter(workspace, travel, mallory, client_for):
    page = client_for(mallory).post(url("tpl-sms-count", workspace), {
        "cfg-node_id": "sms", "cfg-text": "Ω" * 5 + "é"}, **HX).content.decode()
    assert 'data-encoding="GSM-7"' in page and '<span data-count="units">6</span>' in page


def test_the_preview_renders_the_sms_for_a_record_and_counts_the_rendered_text(workspace, travel, mallory,
                                                                              client_for):
    page = client_for(mallory).post(url("tpl-preview", workspace), {
        **sms_post(sms_text="Hi {{ profile.first_name }} ✓"), "preview-key": "1"}, **HX).content.decode()
    assert '<p class="sms-bubble" id="preview-sms">Hi Anna ✓</p>' in page
    assert 'id="preview-sms-count"' in page and 'data-encoding="UCS-2"' in page


def test_outsiders_and_viewers_get_no_counter(workspace, travel, bob, charlie, client_for):
    assert client_for(charlie).post(url("tpl-sms-count", workspace), {"sms_text": "x"}).status_code == 404
    assert client_for(bob).post(url("tpl-sms-count", workspace), {"sms_text": "x"}).status_code == 403
    assert client_for(charlie).post(url("tpl-push-preview", workspace), {"title": "x"}).status_code == 404


def test_the_sms_panel_has_the_live_counter_and_saves_its_settings(workspace, travel, mallory, client_for):
    import json

    from apps.campaigns import services as campaign_services
    from apps.consent.models import RuleSet, Topic
    from tests.channels.test_templates_views import DEFINITION, _mail_settings

    Topic.objects.create(workspace=workspace, key="texts", name="Texts", channel="sms", policy="opt_in")
    rules = RuleSet.objects.create(workspace=workspace, name="Max 2 a week")
    template = ContentTemplate.objects.create(workspace=workspace, name="Reminder", channel="sms",
                                              content={"text": "Hi"})
    definition = json.loads(json.dumps(DEFINITION).replace('"type": "email"', '"type": "sms"'))
    next(n for n in definition["nodes"] if n["id"] == "mail")["settings"] = {"content": {"text": "old"},
                                                                            "quiet": {"kept": 1}}
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Texts", definition=definition)
    client = client_for(mallory)
    panel = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    assert 'id="sms-count"' in panel and 'from:#id_cfg-text' in panel and "Texts" in panel
    # click tracking: on by default for a marketing SMS
    assert re.search(r'<input type="checkbox" name="cfg-track_clicks"[^>]*checked', panel)
    assert f'<option value="{template.pk}">Reminder</option>' in panel
    response = client.post(url("camp-edit", workspace, pk=campaign.pk), {
        "action": "configure", "node": "mail", "definition": json.dumps(definition), "cfg-node_id": "mail",
        "cfg-label": "", "cfg-template": str(template.pk), "cfg-text": "Hi {{ profile.first_name }}",
        "cfg-category": "marketing", "cfg-topic": "texts", "cfg-rule_set_id": str(rules.pk)},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")
    assert response.status_code == 200
    # (the box was left unticked: clicks are not tracked)
    assert _mail_settings(campaign) == {"template_id": template.pk, "content": {"text": "Hi {{ profile.first_name }}"},
                                        "topic": "texts", "rule_set_id": rules.pk, "quiet": {"kept": 1},
                                        "track_clicks": False}


def test_the_run_page_shows_sms_samples_segments_and_the_cost(workspace, travel, sms_config, queue, mallory,
                                                              client_for):
    from django.urls import reverse

    from tests.channels.test_push_content import _test_run

    run = _test_run(workspace, {"content": {"text": "Hi {{ profile.first_name }} ✈ " + "x" * 70}}, channel="sms")
    queue()
    html = client_for(mallory).get(reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk}))
    html = html.content.decode()
    assert '<dd data-count="recipients">2</dd>' in html
    assert '<dd data-count="sms-segments">2</dd>' in html  # 74+ UCS-2 characters: two parts of 67
    assert '<dd data-count="sms-cost">0.03</dd>' in html  # 2 segments x 2 recipients x 0.0075
    assert '<p class="sample-sms">Hi Anna ✈ ' in html and "UCS-2 · 80 characters" in html  # "Hi Anna ✈ " is 10


def test_the_run_page_shows_email_samples(workspace, travel, email_config, queue, mallory, client_for):
    from django.urls import reverse

    from tests.channels.test_push_content import _test_run

    long_tail = "<p>" + "Fine print. " * 400 + "The end.</p>"  # an email longer than a summary
    run = _test_run(workspace, {"content": {"subject": "Hello {{ profile.first_name }}",
                                            "html": "<p style=\"color: #123456\">Dear {{ profile.first_name }},</p>"
                                                    "<script>alert(1)</script>" + long_tail}}, channel="email")
    queue()
    response = client_for(mallory).get(reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk}))
    html = response.content.decode()
    assert '<strong class="sample-subject">Hello Anna</strong>' in html
    assert "To chloe@example.test" in html
    # each email is shown as its recipient would see it: its HTML in a sandboxed frame (no
    # script runs there), whole, with its inline styles let through by the page's policy
    frames = re.findall(r'<iframe sandbox="" [^>]*id="sample-frame-mail-(\d)"[^>]*srcdoc="([^"]*)"', html)
    assert [n for n, _ in frames] == ["1", "2", "3"]
    assert "&lt;p style=&quot;color: #123456&quot;&gt;Dear Ben,&lt;/p&gt;" in frames[1][1]
    assert frames[1][1].endswith("The end.&lt;/p&gt;")
    assert "<script>" not in html.split('id="samples-mail"')[1]
    assert "'unsafe-inline'" in re.search(r"style-src[^;]*", response["Content-Security-Policy"]).group(0)


# --- proofs ---

from apps.channels.models import Delivery  # noqa: E402
from tests.channels.test_sms_sending import configure, gateway  # noqa: E402, F401 - fixture


def test_an_sms_proof_goes_to_test_numbers_through_the_provider(workspace, travel, mallory, client_for, gateway,  # noqa: F811
                                                                sends):
    configure(workspace, gateway, default_region="NL")
    response = client_for(mallory).post(url("tpl-proof", workspace), {
        **sms_post(sms_text="Hi {{ profile.first_name }}"), "proof-addresses": "+44 7911 123456, 06 12345679",
        "proof-key": "2"}, **HX)
    assert response.status_code == 202, response.content.decode()
    assert "Proof queued to 2 numbers, text marked [PROOF]" in response.content.decode()
    delivery = Delivery.objects.get(workspace=workspace)
    assert delivery.proof and delivery.channel == "sms"
    sends()
    assert sorted((m.to, m.body) for m in gateway.messages) == [("+31612345679", "[PROOF] Hi Ben"),
                                                                ("+447911123456", "[PROOF] Hi Ben")]


def test_an_sms_proof_names_the_numbers_it_refuses_and_sends_nothing(workspace, travel, mallory, client_for,
                                                                    gateway):  # noqa: F811
    configure(workspace, gateway)
    response = client_for(mallory).post(url("tpl-proof", workspace), {
        **sms_post(sms_text="Hi"), "proof-addresses": "+447911123456, 0612345679, +1 555"}, **HX)
    page = response.content.decode()
    assert 'id="proof-error"' in page and "0612345679 (a national number without a country" in page
    assert "+1 555 (not a valid phone number)" in page and "+447911123456" not in page.split("proof-error")[1]
    assert not Delivery.objects.exists()


def test_an_sms_proof_needs_a_provider_and_counts_against_the_proof_limit(workspace, travel, mallory, client_for,
                                                                         gateway, settings):  # noqa: F811
    client = client_for(mallory)
    body = {**sms_post(sms_text="Hi"), "proof-addresses": "+447911123456, +447911123457"}
    page = client.post(url("tpl-proof", workspace), body, **HX).content.decode()
    assert "no SMS provider is configured" in page
    configure(workspace, gateway)
    settings.PROOF_SEND_LIMIT_PER_USER = 3
    from django.core.cache import cache

    cache.clear()
    assert client.post(url("tpl-proof", workspace), body, **HX).status_code == 202
    response = client.post(url("tpl-proof", workspace), body, **HX)
    assert response.status_code == 429 and "Too many proof" in response.content.decode()
    assert Delivery.objects.count() == 1


def test_the_list_shows_sms_and_push_templates_with_their_text(workspace, travel, bob, client_for):
    ContentTemplate.objects.create(workspace=workspace, name="Reminder", channel="sms", content={"text": "See you"})
    ContentTemplate.objects.create(workspace=workspace, name="Offer", channel="push",
                                   content={"title": "Spring deals", "text": "x"})
    page = client_for(bob).get(url("tpl-list", workspace) + "?channel=sms").content.decode()
    assert "See you" in page and "Spring deals" not in page
    page = client_for(bob).get(url("tpl-list", workspace)).content.decode()
    assert "See you" in page and "Spring deals" in page
