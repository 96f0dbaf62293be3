"""The "No address on this channel" outlet: a channel activity with no_address_outlet true
hands the rows it could not address (no address, invalid address or phone, no region;
push: no active device) to a second outlet, so that a campaign reaches them on another
channel: email → no_address → SMS sends SMS to exactly those without a (valid) email."""

from __future__ import annotations

import json
import re
import time

from django.db import connection
from django.urls import reverse

from apps.campaigns import executor, services
from apps.campaigns.canvas import layout
from apps.campaigns.graph import GraphError, check_graph
from apps.campaigns.models import ActivityRun, Campaign, CampaignVersion
from apps.channels import devices
from apps.channels.models import Delivery, Message
from tests.channels.test_sending import CONTENT
from tests.channels.test_sms_sending import TEXT, configure, gateway  # noqa: F401 - a fixture

ANNA, CHLOE = "+31612345678", "+33612345678"


def _definition(first="email", first_settings=None, then="sms", then_settings=None):
    nodes = [{"id": "start", "type": "start"},
             {"id": "who", "type": "build_audience", "settings": {"definition": {
                 "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 0}}}},
             {"id": "mail", "type": first, "settings": {"content": CONTENT, "no_address_outlet": True,
                                                        **(first_settings or {})}},
             {"id": "text", "type": then, "settings": then_settings or TEXT},
             {"id": "end", "type": "end"}]
    edges = [{"from": "start", "outlet": "out", "to": "who"}, {"from": "who", "outlet": "out", "to": "mail"},
             {"from": "mail", "outlet": "out", "to": "end"}, {"from": "mail", "outlet": "no_address", "to": "text"},
             {"from": "text", "outlet": "out", "to": "end"}]
    return {"nodes": nodes, "edges": edges}


def _run(workspace, definition, mode="live"):
    campaign = Campaign.objects.create(workspace=workspace, name=f"Fallback {time.monotonic_ns()}")
    version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1, definition=definition)
    return executor.run_create(campaign=campaign, version=version, mode=mode)


def _emails(workspace, emails: dict[int, str | None]):
    with connection.cursor() as cursor:
        for key, email in emails.items():
            cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET email = %s WHERE customer_id = %s", [email, key])


def test_email_then_sms_to_exactly_those_without_an_email(workspace, travel, email_config, sink, gateway, queue,  # noqa: F811
                                                          sends):
    # Anna has no email, Chloe an invalid one; Ben has an email (and no phone)
    configure(workspace, gateway)
    _emails(workspace, {1: None, 3: "chloe(at)example"})
    run = _run(workspace, _definition())
    queue()
    sends()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "done", mail.error
    assert mail.report["excluded"] == {"no_address": 1, "invalid_address": 1}
    assert (mail.outlets["out"]["count"], mail.outlets["no_address"]["count"]) == (1, 2)
    assert [r.rcpt_tos[0] for r in sink.received()] == ["ben@example.test"]
    text = ActivityRun.objects.get(run=run, node_id="text")
    assert text.status == "done", text.error
    assert sorted(m.to for m in gateway.messages) == [ANNA, CHLOE]
    sms = Delivery.objects.get(run=run, channel="sms")
    assert sorted(Message.objects.filter(delivery=sms).values_list("profile_key", "status")) == [
        ("1", "sent"), ("3", "sent")]


def test_a_test_run_counts_the_outlet_and_the_fallback(workspace, travel, email_config, gateway, queue):  # noqa: F811
    configure(workspace, gateway)
    _emails(workspace, {1: None})
    run = _run(workspace, _definition(), mode="test")
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.outlets["no_address"]["count"] == 1 and mail.outlets["out"]["count"] == 2
    text = ActivityRun.objects.get(run=run, node_id="text")
    assert (text.report["recipients"], text.report["excluded"]) == (1, {})
    assert [s["address"] for s in text.report["samples"]] == [ANNA]
    assert gateway.messages == [] and not Delivery.objects.filter(run=run).exists()


def test_push_hands_profiles_without_an_active_device_to_sms(workspace, travel, gateway, queue):  # noqa: F811
    configure(workspace, gateway)
    devices.push_subscription_register(workspace=workspace, profile_key="2", platform="android",
                                       token="ben-fcm-token-0123456789abcdef")
    chloe, _ = devices.push_subscription_register(workspace=workspace, profile_key="3", platform="android",
                                                  token="chloe-fcm-token-0123456789abcd")
    devices.push_subscription_deactivate(subscription=chloe, reason="unregistered")
    run = _run(workspace, _definition("push", {"content": {"title": "Hi", "text": "Offers"}}), mode="test")
    queue()
    push = ActivityRun.objects.get(run=run, node_id="mail")
    assert push.status == "done", push.error
    assert (push.outlets["out"]["count"], push.outlets["no_address"]["count"]) == (1, 2)  # Anna and Chloe
    text = ActivityRun.objects.get(run=run, node_id="text")
    assert text.report["recipients"] == 2


def test_sms_hands_invalid_and_regionless_numbers_on(workspace, travel, gateway, email_config, queue):  # noqa: F811
    configure(workspace, gateway)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET phone = '12345' WHERE customer_id = 1")
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET phone = '06 1234 5678', country = NULL "
                       "WHERE customer_id = 3")
    definition = _definition("sms", {"content": TEXT["content"]}, "email", {"content": CONTENT})
    run = _run(workspace, definition, mode="test")
    queue()
    sms = ActivityRun.objects.get(run=run, node_id="mail")
    assert sms.report["excluded"] == {"invalid_phone": 1, "no_region": 1, "no_address": 1}
    assert sms.outlets["no_address"]["count"] == 3
    assert ActivityRun.objects.get(run=run, node_id="text").report["recipients"] == 3


def _problems(workspace, definition) -> str:
    try:
        check_graph(workspace=workspace, definition=definition)
    except GraphError as exc:
        return str(exc.problems if hasattr(exc, "problems") else exc)
    return ""


def test_without_the_setting_there_is_no_such_outlet(workspace, travel):
    assert _problems(workspace, _definition()) == ""
    problems = _problems(workspace, _definition(first_settings={"no_address_outlet": False}))
    assert "no_address" in problems


def test_a_setting_that_is_not_true_or_false_is_named(workspace, travel):
    assert "no_address_outlet is true or false" in _problems(workspace, _definition(
        first_settings={"no_address_outlet": "yes"}))


def test_the_canvas_calls_the_outlet_by_its_words(workspace, travel, mallory, client_for):
    definition = _definition()
    boxes = {b.id: b for b in layout(definition).nodes}
    assert boxes["mail"].outlet_choices == [("out", "out"), ("no_address", "No address on this channel")]
    [edge] = [e for e in layout(definition).edges if e.outlet == "no_address"]
    assert edge.label == "No address on this channel"
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Fallback")
    CampaignVersion.objects.filter(campaign=campaign).update(definition=definition)
    page = client_for(mallory).get(reverse("camp-detail", kwargs={"workspace_slug": workspace.slug,
                                                                  "pk": campaign.pk}) + "?node=mail")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<option value="no_address">No address on this channel</option>' in html
    [checkbox] = re.findall(r'<input[^>]*name="cfg-no_address_outlet"[^>]*>', html)
    assert "checked" in checkbox


def test_the_side_panel_checkbox_adds_and_removes_the_setting(workspace, travel, mallory, client_for):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Panel")
    definition = _definition(first_settings={"no_address_outlet": False, "topic": "kept"})
    definition["edges"] = [e for e in definition["edges"] if e["outlet"] != "no_address"]
    CampaignVersion.objects.filter(campaign=campaign).update(definition=definition)
    client = client_for(mallory)
    edit_url = reverse("camp-edit", kwargs={"workspace_slug": workspace.slug, "pk": campaign.pk})

    def configure_mail(**fields):
        current = services.latest_version(campaign).definition
        return client.post(edit_url, {"action": "configure", "node": "mail", "definition": json.dumps(current),
                                      "cfg-node_id": "mail", "cfg-subject": "Hi", "cfg-html": "<p>Hi</p>",
                                      **fields}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor")

    assert configure_mail(**{"cfg-no_address_outlet": "on"}).status_code == 200
    settings = next(n for n in services.latest_version(campaign).definition["nodes"] if n["id"] == "mail")["settings"]
    assert settings["no_address_outlet"] is True
    assert configure_mail().status_code == 200
    settings = next(n for n in services.latest_version(campaign).definition["nodes"] if n["id"] == "mail")["settings"]
    assert "no_address_outlet" not in settings


def test_an_outsider_cannot_see_the_campaign_panel(workspace, travel, charlie, other_workspace, client_for):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Secret")
    CampaignVersion.objects.filter(campaign=campaign).update(definition=_definition())
    client = client_for(charlie)
    for slug in (workspace.slug, other_workspace.slug):
        page = client.get(reverse("camp-detail", kwargs={"workspace_slug": slug, "pk": campaign.pk}) + "?node=mail")
        assert page.status_code == 404 and b"No address on this channel" not in page.content
