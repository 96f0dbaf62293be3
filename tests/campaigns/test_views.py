"""The campaign screens: the list, the canvas editor's actions (each saves the draft the
way it says), roles (viewer 403 and nothing changed; publishing needs an approver) and
the run page with the counts on the edges after a test run."""

import json
import re

import pytest
from django.urls import reverse

from apps.audiences import services as audience_services
from apps.campaigns import services
from apps.campaigns.models import Campaign, CampaignVersion, Run
from tests.factories import UserFactory, grant

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "editor"}






@pytest.fixture
def dutch(workspace, travel):
    return audience_services.audience_create(workspace=workspace, actor=None, name="Dutch", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})


@pytest.fixture
def approver(workspace):
    return grant(UserFactory(email="ann@example.test"), workspace, "approver")


@pytest.fixture
def campaign(workspace, travel):
    return services.campaign_create(workspace=workspace, actor=None, name="Spring")


def url(name, workspace, **kwargs):
    return reverse(name, kwargs={"workspace_slug": workspace.slug, **kwargs})


def definition(campaign):
    return services.latest_version(campaign).definition


def edit(client, campaign, action, **data):
    return client.post(url("camp-edit", campaign.workspace, pk=campaign.pk),
                       {"action": action, "definition": json.dumps(definition(campaign)), **data}, **HX)


def e(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


COMPLETE = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                      {"id": "nl", "type": "build_audience", "settings": {"definition": {
                          "entity": "customer", "rule": {"attr": "country", "op": "in", "value": ["NL", "FR"]}}}},
                      {"id": "mail", "type": "email", "settings": {"content": {"subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
                      {"id": "end", "type": "end", "settings": {}}],
            "edges": [e("start", "nl"), e("nl", "mail"), e("mail", "end")]}


def test_a_marketer_creates_a_campaign_and_lands_on_its_canvas(workspace, mallory, client_for, travel):
    response = client_for(mallory).post(url("camp-list", workspace), {"name": "Winter sun", "description": ""})
    campaign = Campaign.objects.get(workspace=workspace, name="Winter sun")
    assert response.status_code == 302
    assert response["Location"] == url("camp-detail", workspace, pk=campaign.pk) + "?node=start"
    assert definition(campaign) == {"nodes": [{"id": "start", "type": "start", "settings": {}}], "edges": []}
    page = client_for(mallory).get(response["Location"])
    assert page.status_code == 200
    assert b'data-node="start"' in page.content and b'id="add-after-form"' in page.content


def test_a_duplicate_name_is_refused_on_the_form(workspace, mallory, client_for, campaign):
    response = client_for(mallory).post(url("camp-list", workspace), {"name": "Spring"})
    assert response.status_code == 422
    assert "A campaign named &#x27;Spring&#x27; already exists." in response.content.decode()
    assert Campaign.objects.filter(workspace=workspace).count() == 1


def test_add_configure_insert_connect_remove_and_undo_change_the_draft(workspace, mallory, client_for, campaign,
                                                                        dutch):
    client = client_for(mallory)
    # add after the Start
    response = edit(client, campaign, "add", node="start", type="build_audience")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "campaignChanged"
    assert 'data-node="build_audience"' in response.content.decode()
    assert definition(campaign)["edges"] == [e("start", "build_audience")]
    # configure it with a saved audience
    response = edit(client, campaign, "configure", node="build_audience", **{
        "cfg-audience": str(dutch.pk), "cfg-definition": "", "cfg-label": "Dutch", "cfg-node_id": "dutch"})
    assert response.status_code == 200, response.content.decode()[:2000]
    assert definition(campaign)["nodes"][1] == {"id": "dutch", "type": "build_audience",
                                                 "settings": {"audience": dutch.pk}, "label": "Dutch"}
    # an End after it, then an Email inserted on that edge
    edit(client, campaign, "add", node="dutch", type="end")
    response = edit(client, campaign, "insert", edge="1", type="email")
    assert response.status_code == 200
    assert definition(campaign)["edges"] == [e("start", "dutch"), e("dutch", "email"), e("email", "end")]
    assert services.latest_version(campaign).number == 1
    # connect the email's outlet to a second End, replacing the first edge on it
    edit(client, campaign, "add", node="start", type="end")
    assert definition(campaign)["edges"][-1] == e("start", "end2")
    edit(client, campaign, "connect", node="email", outlet="out", target="end2")
    assert definition(campaign)["edges"] == [e("start", "dutch"), e("dutch", "email"), e("start", "end2"),
                                              e("email", "end2")]
    # remove the email: its feeder and its follower are bridged
    edit(client, campaign, "remove", node="email")
    assert definition(campaign)["edges"] == [e("start", "dutch"), e("start", "end2"), e("dutch", "end2")]
    assert [n["id"] for n in definition(campaign)["nodes"]] == ["start", "dutch", "end", "end2"]
    # undo twice: the email is back, then the edge it had before the connect
    edit(client, campaign, "undo")
    assert definition(campaign)["edges"] == [e("start", "dutch"), e("dutch", "email"), e("start", "end2"),
                                              e("email", "end2")]
    edit(client, campaign, "undo")
    assert definition(campaign)["edges"] == [e("start", "dutch"), e("dutch", "email"), e("email", "end"),
                                              e("start", "end2")]


def test_undo_with_nothing_to_undo_and_a_bad_action_change_nothing(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    before = definition(campaign)
    response = edit(client, campaign, "undo")
    assert response.status_code == 422
    assert "There is nothing to undo." in response.content.decode()
    response = edit(client, campaign, "remove", node="start")
    assert response.status_code == 422
    assert "The Start cannot be removed" in response.content.decode()
    assert definition(campaign) == before


def test_a_settings_form_error_is_shown_and_nothing_is_saved(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    edit(client, campaign, "add", node="start", type="build_audience")
    before = definition(campaign)
    response = edit(client, campaign, "configure", node="build_audience", **{
        "cfg-audience": "", "rb-definition": "{not json", "cfg-node_id": "build_audience"})
    assert response.status_code == 422
    assert "The rule is not valid JSON. Nothing was saved: reload the canvas." in response.content.decode()
    assert definition(campaign) == before


def test_settings_the_graph_refuses_are_listed_next_to_the_activity(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    edit(client, campaign, "add", node="start", type="build_audience")
    document = definition(campaign)
    document["nodes"][1]["settings"] = {"definition": {"entity": "customer", "rule": {
        "attr": "shoe_size", "op": "eq", "value": 3}}}
    response = edit(client, campaign, "replace", document=json.dumps(document))  # the JSON view
    assert response.status_code == 200  # a draft may be incomplete: saved, with the problem shown
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=build_audience").content.decode()
    problems = re.search(r'<ul class="problem-list" id="node-problems">(.*?)</ul>', page, re.S).group(1)
    assert problems == "<li>rule: customer has no attribute &#x27;shoe_size&#x27;.</li>"


def test_the_json_view_replaces_the_definition(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    response = edit(client, campaign, "replace", document=json.dumps(COMPLETE))
    assert response.status_code == 200
    assert definition(campaign) == COMPLETE
    response = edit(client, campaign, "replace", document='{"nodes": [{"id": "x", "type": "rocket"}]}')
    assert response.status_code == 422
    assert "unknown activity type" in response.content.decode()
    assert definition(campaign) == COMPLETE


def test_a_viewer_sees_the_canvas_but_cannot_edit(workspace, bob, client_for, campaign):
    client = client_for(bob)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=start")
    assert page.status_code == 200
    assert b'id="add-after-form"' not in page.content and b"Test run" not in page.content
    before = definition(campaign)
    response = edit(client, campaign, "add", node="start", type="end")
    assert response.status_code == 403
    response = client.post(url("camp-test-run", workspace, pk=campaign.pk))
    assert response.status_code == 403
    assert definition(campaign) == before
    assert Run.objects.count() == 0


def test_publishing_needs_an_approver(workspace, mallory, approver, client_for, campaign):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    response = client_for(mallory).post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "publish"})
    assert response.status_code == 403
    assert CampaignVersion.objects.get(campaign=campaign).published_at is None
    response = client_for(approver).post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "publish"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "live"
    assert CampaignVersion.objects.get(campaign=campaign).published_by == approver
    # editing the published campaign makes version 2, a draft
    edit(client_for(mallory), campaign, "add", node="start", type="end")
    assert [(v.number, v.is_published) for v in campaign.versions.order_by("-number")] == [(2, False), (1, True)]


def test_publishing_an_incomplete_campaign_says_why(workspace, approver, client_for, campaign):
    client = client_for(approver)
    response = client.post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "publish"}, follow=True)
    assert "Cannot publish: start: outlet &#x27;out&#x27; leads nowhere" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_a_test_run_shows_the_counts_on_the_edges_and_the_channel_report(workspace, mallory, client_for, campaign,
                                                                         queue):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    client = client_for(mallory)
    response = client.post(url("camp-test-run", workspace, pk=campaign.pk))
    run = Run.objects.get(campaign=campaign)
    assert response["Location"] == url("camp-run", workspace, pk=run.pk)
    # while it runs, the status region polls
    page = client.get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert 'id="run-status" aria-live="polite" hx-get=' in page
    assert 'data-node="start" data-status="queued"' in page
    assert queue() == 4
    status = client.get(url("camp-run-status", workspace, pk=run.pk)).content.decode()
    assert status.startswith('\n<section id="run-status" aria-live="polite">') or \
        '<section id="run-status" aria-live="polite">' in status
    assert "hx-trigger" not in status
    counts = dict(re.findall(r'data-edge-label="([^"]+)" data-count="(\d+)"', status))
    assert counts == {"nl.out-mail": "2", "mail.out-end": "2"}
    assert re.findall(r'data-node="(\w+)" data-status="(\w+)"', status) == [
        ("start", "done"), ("nl", "done"), ("mail", "done"), ("end", "done")]
    report = re.search(r'id="report-mail">(.*?)</dl>', status, re.S).group(1)
    assert re.search(r'data-count="recipients">2<', report)
    assert "CREATE UNLOGGED TABLE" not in status  # the SQL log is for workspace admins, not marketers
    # the canvas shows the last run's counts too
    canvas = client.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert dict(re.findall(r'data-edge-label="([^"]+)" data-count="(\d+)"', canvas)) == counts


def test_the_campaign_list_shows_status_last_run_and_recipients_in_constant_queries(
        workspace, mallory, client_for, campaign, queue, django_assert_num_queries):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    client = client_for(mallory)
    client.get(url("camp-list", workspace))  # warm the session
    # session, user, workspace, role (2), then the list's 3 (campaigns, last runs, channel
    # reports), the workspace switcher (2), and the request's transaction (2)
    with django_assert_num_queries(12):
        page = client.get(url("camp-list", workspace)).content.decode()
    row = re.search(rf'<tr id="campaign-{campaign.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "Draft" in row and "Done" in row
    assert re.search(r"data-recipients>2<", row)
    for i in range(4):
        services.campaign_create(workspace=workspace, actor=None, name=f"Other {i}")
    with django_assert_num_queries(12):
        page = client.get(url("camp-list", workspace)).content.decode()
    assert page.count('<tr id="campaign-') == 5


def test_a_marketer_duplicates_and_an_approver_archives(workspace, mallory, approver, client_for, campaign):
    response = client_for(mallory).post(url("camp-duplicate", workspace, pk=campaign.pk))
    copy = Campaign.objects.get(workspace=workspace, name="Spring (copy)")
    assert response["Location"] == url("camp-detail", workspace, pk=copy.pk)
    response = client_for(mallory).post(url("camp-lifecycle", workspace, pk=copy.pk), {"action": "archive"})
    assert response.status_code == 403
    client_for(approver).post(url("camp-lifecycle", workspace, pk=copy.pk), {"action": "archive"})
    copy.refresh_from_db()
    assert copy.status == "archived"
    response = edit(client_for(mallory), copy, "add", node="start", type="end")
    assert response.status_code == 422
    assert "An archived campaign cannot be edited" in response.content.decode()


def test_an_outsider_gets_404(workspace, charlie, client_for, campaign):
    assert client_for(charlie).get(url("camp-detail", workspace, pk=campaign.pk)).status_code == 404


def test_an_unconfigured_activity_is_blamed_alone_not_what_follows_it(workspace, mallory, client_for, campaign):
    client = client_for(mallory)
    edit(client, campaign, "add", node="start", type="build_audience")
    edit(client, campaign, "add", node="build_audience", type="email")
    edit(client, campaign, "add", node="email", type="end")
    page = client.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    problems = re.search(r'<ul class="problem-list" id="all-problems">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r"<code>(\w+)</code>", problems) == ["build_audience"]
    assert 'data-node="email"' in page and "1 thing to fix before publishing." in page


def test_the_canvas_lists_the_ten_channel_guardrail_before_publishing(workspace, mallory, client_for, campaign):
    mails = [{"id": f"mail{i}", "type": "email", "settings": {"content": {
        "subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}} for i in range(11)]
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition={
        "nodes": [*COMPLETE["nodes"][:2], {"id": "fan", "type": "fork", "settings": {"branches": 11}}, *mails,
                  {"id": "end", "type": "end", "settings": {}}],
        "edges": [e("start", "nl"), e("nl", "fan")] + [e("fan", f"mail{i}", f"branch{i + 1}") for i in range(11)]
        + [e(f"mail{i}", "end") for i in range(11)]})
    page = client_for(mallory).get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert "1 thing to fix before publishing." in page
    assert "at most 10 channel activities; this one has 11: split it into several campaigns." in page
    assert "Ready to publish" not in page


def test_the_email_panel_leads_to_the_visual_editor_and_to_its_template(workspace, mallory, client_for, campaign):
    from apps.channels.models import ContentTemplate

    welcome = ContentTemplate.objects.create(workspace=workspace, name="Welcome <b>", channel="email",
                                             content={"subject": "Hi", "html": "<p>Hi</p>"})
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    client = client_for(mallory)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    new = url("tpl-new", workspace) + "?channel=email"
    assert f'<a href="{new}" target="_blank" rel="noopener" id="panel-new-template">Design a new email in the ' \
           "visual editor</a>" in page
    assert 'id="panel-edit-template"' not in page  # inline content: no template to edit
    chosen = {**COMPLETE, "nodes": [dict(n, settings={"template_id": welcome.pk}) if n["id"] == "mail" else n
                                    for n in COMPLETE["nodes"]]}
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=chosen)
    page = client.get(url("camp-detail", workspace, pk=campaign.pk) + "?node=mail").content.decode()
    edit_link = url("tpl-edit", workspace, pk=welcome.pk)
    assert f'<a href="{edit_link}" target="_blank" rel="noopener" id="panel-edit-template">Edit “Welcome &lt;b&gt;”' \
           "</a>" in page
