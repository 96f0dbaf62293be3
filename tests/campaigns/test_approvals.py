"""Approval of a campaign (request, comment, approve = publish, send back) and the
confirmation asked before a live send: services (rules, audit, emails) and screens
(roles: viewer 403, marketer may not decide, requester may not decide, outsider 404)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from apps.campaigns import services
from apps.campaigns.models import (
    ApprovalEvent,
    ApprovalRequest,
    ApprovalStatus,
    Campaign,
    CampaignSchedule,
    Run,
)
from apps.tenants.models import AuditEvent
from tests.factories import UserFactory, grant


def e(a, b, outlet="out"):
    return {"from": a, "outlet": outlet, "to": b}


COMPLETE = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                      {"id": "nl", "type": "build_audience", "settings": {"definition": {
                          "entity": "customer", "rule": {"attr": "country", "op": "in", "value": ["NL", "FR"]}}}},
                      {"id": "mail", "type": "email", "settings": {"content": {
                          "subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}},
                      {"id": "end", "type": "end", "settings": {}}],
            "edges": [e("start", "nl"), e("nl", "mail"), e("mail", "end")]}


@pytest.fixture
def approver(workspace):
    return grant(UserFactory(email="ann@example.test"), workspace, "approver")


@pytest.fixture
def campaign(workspace, travel, mallory):
    return services.campaign_create(workspace=workspace, actor=mallory, name="Spring", definition=COMPLETE)


def url(name, workspace, **kwargs):
    return reverse(name, kwargs={"workspace_slug": workspace.slug, **kwargs})


def verbs(workspace):
    return list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="campaign.approval")
                .order_by("id").values_list("verb", flat=True))


# --- services ---------------------------------------------------------------------------

def test_a_request_notifies_every_approver_but_the_requester_and_is_audited(
        workspace, campaign, mallory, approver, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign, note="Ready <b>")
    assert request.status == ApprovalStatus.OPEN
    assert request.definition == COMPLETE
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["alice@example.test", "ann@example.test"]
    assert mail.outbox[0].subject == "Approval requested: Spring (Northwind)"
    assert "Ready <b>" in mail.outbox[0].body
    assert f"/w/{workspace.slug}/campaigns/{campaign.pk}/" in mail.outbox[0].body
    assert verbs(workspace) == ["campaign.approval_requested"]
    assert list(request.events.values_list("kind", "body")) == [("requested", "Ready <b>")]


def test_a_second_request_and_an_incomplete_draft_are_refused(workspace, travel, campaign, mallory):
    services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    with pytest.raises(Exception, match="already requested"):
        services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    draft = services.campaign_create(workspace=workspace, actor=mallory, name="Empty")
    with pytest.raises(Exception):  # noqa: B017 (GraphError or ValidationError: both refuse)
        services.approval_request(workspace=workspace, actor=mallory, campaign=draft)
    assert ApprovalRequest.objects.filter(workspace=workspace).count() == 1


def test_the_requester_cannot_decide_and_nothing_changes(workspace, campaign, mallory):
    request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    with pytest.raises(Exception, match="another approver decides"):
        services.approval_approve(workspace=workspace, actor=mallory, request=request)
    with pytest.raises(Exception, match="another approver decides"):
        services.approval_send_back(workspace=workspace, actor=mallory, request=request, reason="no")
    request.refresh_from_db()
    campaign.refresh_from_db()
    assert request.status == ApprovalStatus.OPEN
    assert campaign.status == "draft"
    assert services.published_version(campaign) is None


def test_send_back_needs_a_reason_then_approve_publishes_and_mails_the_requester(
        workspace, campaign, mallory, approver, django_capture_on_commit_callbacks):
    request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    services.approval_comment(workspace=workspace, actor=approver, request=request, body="Subject too short?")
    with pytest.raises(Exception, match="Write a few words"):
        services.approval_send_back(workspace=workspace, actor=approver, request=request, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_send_back(workspace=workspace, actor=approver, request=request, reason="Fix the subject")
    request.refresh_from_db()
    assert (request.status, request.reason, request.decided_by) == ("sent_back", "Fix the subject", approver)
    assert mail.outbox[-1].to == ["mallory@example.test"]
    assert "Fix the subject" in mail.outbox[-1].body
    with pytest.raises(Exception, match="decided"):
        services.approval_comment(workspace=workspace, actor=mallory, request=request, body="late")
    # asked again, approved: published as the version asked
    again = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        version = services.approval_approve(workspace=workspace, actor=approver, request=again)
    again.refresh_from_db()
    campaign.refresh_from_db()
    assert version.is_published and version.published_by == approver
    assert (again.status, again.decided_by) == ("approved", approver)
    assert campaign.status == "live"
    assert mail.outbox[-1].subject == "Approved: Spring (Northwind)"
    assert verbs(workspace) == ["campaign.approval_requested", "campaign.approval_commented",
                                "campaign.approval_sent_back", "campaign.approval_requested",
                                "campaign.approval_approved"]
    assert list(ApprovalEvent.objects.filter(request__campaign=campaign).values_list("kind", flat=True)) == [
        "requested", "comment", "sent_back", "requested", "approved"]


def test_an_edit_after_the_request_is_not_approved_unseen(workspace, campaign, mallory, approver):
    request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    edited = {**COMPLETE, "nodes": [*COMPLETE["nodes"][:2], {**COMPLETE["nodes"][2], "settings": {"content": {
        "subject": "Changed", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}}, COMPLETE["nodes"][3]]}
    services.draft_save(workspace=workspace, actor=mallory, campaign=campaign, definition=edited)
    with pytest.raises(Exception, match="edited after approval was requested"):
        services.approval_approve(workspace=workspace, actor=approver, request=request)
    assert services.published_version(campaign) is None
    request.refresh_from_db()
    assert request.status == ApprovalStatus.OPEN


def test_publishing_directly_closes_the_open_request(workspace, campaign, mallory, alice):
    request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    services.campaign_publish(workspace=workspace, actor=alice, campaign=campaign)
    request.refresh_from_db()
    assert (request.status, request.decided_by) == ("approved", alice)
    assert request.events.last().body == "Published directly."


def test_comments_are_bounded(workspace, campaign, mallory):
    request = services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    with pytest.raises(Exception, match="At most 2000"):
        services.approval_comment(workspace=workspace, actor=mallory, request=request, body="x" * 2001)
    assert request.events.count() == 1


# --- screens ----------------------------------------------------------------------------

def test_the_flow_on_the_campaign_page(workspace, campaign, mallory, approver, client_for):
    marketer, checker = client_for(mallory), client_for(approver)
    page = marketer.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert 'id="approval-stage">Draft<' in page and 'id="approval-request-button"' in page
    assert 'id="approval-badge"' not in page  # the heading says "Draft" once, with the campaign's status
    response = marketer.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "request", "note": "<i>ok</i>"})
    assert response.status_code == 302
    page = marketer.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert 'id="approval-stage">Awaiting approval<' in page and 'id="approval-badge">Awaiting approval<' in page
    assert "&lt;i&gt;ok&lt;/i&gt;" in page and "<i>ok</i>" not in page
    assert 'id="approval-approve-button"' not in page  # the requester does not decide
    # a marketer cannot approve (403) and nothing changed
    assert marketer.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "approve"}).status_code == 403
    assert ApprovalRequest.objects.get(campaign=campaign).status == "open"
    page = checker.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert 'id="approval-approve-button"' in page and 'id="approval-send-back-button"' in page
    checker.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "send_back", "reason": "Too early"})
    page = marketer.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert 'id="approval-stage">Sent back<' in page and "Too early" in page
    marketer.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "request"})
    checker.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "approve"})
    campaign.refresh_from_db()
    assert campaign.status == "live"
    page = marketer.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert 'id="approval-stage">Approved<' in page
    assert "Ready to publish" not in page and "Version 1 is published" in page


def test_the_approvals_list_and_its_count(workspace, campaign, mallory, bob, client_for):
    viewer = client_for(bob)
    assert viewer.get(url("camp-approvals-count", workspace)).content.decode() == '<span id="approvals-count"></span>'
    services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    count = viewer.get(url("camp-approvals-count", workspace)).content.decode()
    assert re.search(r'id="approvals-count"[^>]*>1</span>', count)
    page = viewer.get(url("camp-approvals", workspace)).content.decode()
    assert "Awaiting approval (1)" in page and "Spring" in page and "mallory@example.test" in page
    assert 'id="nav-approvals"' in page
    # a viewer cannot request, comment or decide
    for action in ("request", "comment", "approve", "send_back"):
        assert viewer.post(url("camp-approval", workspace, pk=campaign.pk),
                           {"action": action, "body": "x", "reason": "x"}).status_code == 403
    assert ApprovalEvent.objects.count() == 1


def test_an_outsider_gets_404_on_every_approval_page(workspace, campaign, mallory, charlie, client_for):
    services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    outsider = client_for(charlie)
    assert outsider.get(url("camp-approvals", workspace)).status_code == 404
    assert outsider.get(url("camp-approvals-count", workspace)).status_code == 404
    for action in ("comment", "approve", "send_back", "request"):
        assert outsider.post(url("camp-approval", workspace, pk=campaign.pk),
                             {"action": action, "body": "x", "reason": "x"}).status_code == 404
    assert ApprovalEvent.objects.count() == 1
    assert ApprovalRequest.objects.get().status == "open"


def test_bad_input_is_a_message_not_an_error(workspace, campaign, mallory, approver, client_for):
    marketer = client_for(mallory)
    response = marketer.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "comment", "body": "hi"},
                             follow=True)
    assert "No approval is requested" in response.content.decode()
    response = marketer.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "nonsense"}, follow=True)
    assert "Unknown action" in response.content.decode()
    assert client_for(approver).post(url("camp-approval", workspace, pk=10**9), {"action": "request"}).status_code \
        == 404


# --- confirmation before a live send -------------------------------------------------------

def test_start_asks_to_confirm_with_a_fresh_count_then_starts(workspace, campaign, alice, client_for, queue):
    services.campaign_publish(workspace=workspace, actor=alice, campaign=campaign)
    owner = client_for(alice)
    response = owner.post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "start"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="confirm-question">Send to up to 2 recipients on Email?<' in page
    assert Run.objects.filter(campaign=campaign).count() == 0
    response = owner.post(url("camp-lifecycle", workspace, pk=campaign.pk),
                          {"action": "start", "confirmed": "1", "shown_recipients": "2", "shown_channels": "Email",
                           "shown_complete": "1"})
    run = Run.objects.get(campaign=campaign)
    assert response.status_code == 302 and response["Location"] == url("camp-run", workspace, pk=run.pk)
    started = AuditEvent.objects.get(workspace=workspace, verb="campaign.started")
    assert started.data["confirmed"] == {"recipients": 2, "channels": "Email", "complete": True}


def test_a_partner_trigger_is_exempt_and_logged(workspace, campaign, alice):
    services.campaign_publish(workspace=workspace, actor=alice, campaign=campaign)
    services.campaign_trigger(workspace=workspace, actor=None, campaign=campaign, variables={})
    started = AuditEvent.objects.get(workspace=workspace, verb="campaign.started")
    assert started.data["confirmation"] == "exempt (partner trigger over the API)"
    # a start over the API is exempt too, and logged as such
    response = _api(alice).post(f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/start/", {},
                                format="json")
    assert response.status_code == 202
    started = AuditEvent.objects.filter(workspace=workspace, verb="campaign.started").order_by("-id").first()
    assert started.data["confirmation"] == "exempt (API call)"


def test_publishing_a_one_off_schedule_asks_to_confirm(workspace, campaign, alice, client_for):
    services.schedule_set(campaign=campaign, spec={"kind": "once", "at": "2099-01-01T09:00"})
    owner = client_for(alice)
    response = owner.post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "publish"})
    assert response.status_code == 200 and 'id="confirm-send-button"' in response.content.decode()
    assert services.published_version(campaign) is None
    owner.post(url("camp-lifecycle", workspace, pk=campaign.pk),
               {"action": "publish", "confirmed": "1", "shown_recipients": "nonsense"})
    assert services.published_version(campaign) is not None
    published = AuditEvent.objects.get(workspace=workspace, verb="campaign.published")
    assert published.data["confirmed"]["recipients"] is None
    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"
    assert CampaignSchedule.objects.filter(campaign=campaign).exists()


def test_a_recurring_schedule_publishes_without_asking(workspace, campaign, alice, client_for):
    services.schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    response = client_for(alice).post(url("camp-lifecycle", workspace, pk=campaign.pk), {"action": "publish"})
    assert response.status_code == 302
    assert services.published_version(campaign) is not None


# --- API -----------------------------------------------------------------------------------

def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def api_url(workspace, campaign, tail=""):
    return f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/approval/{tail}"


def test_the_api_mirrors_the_page(workspace, campaign, mallory, approver, charlie):
    marketer, checker = _api(mallory), _api(approver)
    assert marketer.get(api_url(workspace, campaign)).json() == {"stage": "draft", "requests": []}
    response = marketer.post(api_url(workspace, campaign, "request/"), {"note": "please"}, format="json")
    assert response.status_code == 200 and response.json()["stage"] == "awaiting"
    assert marketer.post(api_url(workspace, campaign, "request/"), {}, format="json").status_code == 409
    assert marketer.post(api_url(workspace, campaign, "approve/"), {}, format="json").status_code == 403
    assert checker.post(api_url(workspace, campaign, "comments/"), {"body": ""}, format="json").status_code == 400
    assert checker.post(api_url(workspace, campaign, "comments/"), {"body": "ok?"}, format="json").status_code == 200
    assert checker.post(api_url(workspace, campaign, "send-back/"), {}, format="json").status_code == 400
    body = checker.post(api_url(workspace, campaign, "send-back/"), {"reason": "no"}, format="json").json()
    assert body["stage"] == "sent_back"
    assert [e["kind"] for e in body["requests"][0]["events"]] == ["requested", "comment", "sent_back"]
    assert body["requests"][0]["requested_by"] == "mallory@example.test"
    marketer.post(api_url(workspace, campaign, "request/"), {}, format="json")
    assert checker.post(api_url(workspace, campaign, "approve/"), {}, format="json").json()["stage"] == "approved"
    assert _api(charlie).get(api_url(workspace, campaign)).status_code == 404
    assert _api(charlie).post(api_url(workspace, campaign, "comments/"), {"body": "x"}).status_code == 404


# --- the run page: rows on an edge ---------------------------------------------------------

def test_a_marketer_previews_the_rows_on_an_edge_of_a_test_run(workspace, campaign, mallory, bob, charlie,
                                                                client_for, queue):
    run = services.test_run_start(workspace=workspace, actor=mallory, campaign=campaign)
    queue()
    viewer = client_for(bob)
    page = viewer.get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert 'value="nl|out|mail"' in page
    # each channel activity's rendered samples are on the page (the first recipients, with their data)
    samples = re.search(r'id="samples-mail"(.*?)</details>', page, re.S).group(1)
    assert samples.count('class="sample"') == 2 and "To anna@example.test" in samples
    response = viewer.get(url("camp-run-edge", workspace, pk=run.pk), {"edge": "nl|out|mail"},
                          HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="edge-preview">')
    cells = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    assert len(cells) == 2
    assert "anna@example.test" in cells[0] and "chloe@example.test" in cells[1]
    assert "ben@example.test" not in body  # DE: not on this edge
    # without htmx: the whole run page with the preview
    page = viewer.get(url("camp-run-edge", workspace, pk=run.pk), {"from": "nl", "outlet": "out", "to": "mail"})
    assert page.status_code == 200 and 'id="edge-preview-table"' in page.content.decode()
    # no such edge: 404; an outsider: 404
    assert viewer.get(url("camp-run-edge", workspace, pk=run.pk), {"edge": "nl|out|end"}).status_code == 404
    assert viewer.get(url("camp-run-edge", workspace, pk=run.pk), {"edge": "x" * 5000}).status_code == 404
    assert client_for(charlie).get(url("camp-run-edge", workspace, pk=run.pk),
                                   {"edge": "nl|out|mail"}).status_code == 404


def test_an_edge_of_a_purged_run_says_so(workspace, campaign, mallory, client_for, queue):
    from django.utils import timezone

    run = services.test_run_start(workspace=workspace, actor=mallory, campaign=campaign)
    queue()
    Run.objects.filter(pk=run.pk).update(tables_purged_at=timezone.now())
    body = client_for(mallory).get(url("camp-run-edge", workspace, pk=run.pk), {"edge": "nl|out|mail"},
                                   HTTP_HX_REQUEST="true").content.decode()
    assert "working tables were purged" in body


# --- test runs skip waits; the run page's polish ---------------------------------------------

WAITING = {**COMPLETE, "nodes": [*COMPLETE["nodes"][:2],
                                 {"id": "pause", "type": "wait", "settings": {"amount": 3, "unit": "days"}},
                                 *COMPLETE["nodes"][2:]],
           "edges": [e("start", "nl"), e("nl", "pause"), e("pause", "mail"), e("mail", "end")]}


def test_a_test_run_may_skip_its_waits_and_its_page_says_so(workspace, travel, mallory, client_for, queue):
    campaign = services.campaign_create(workspace=workspace, actor=mallory, name="Waiting", definition=WAITING)
    marketer = client_for(mallory)
    marketer.post(url("camp-test-run", workspace, pk=campaign.pk), {"skip_waits": "on"})
    queue()
    run = Run.objects.get(campaign=campaign)
    assert (run.skip_waits, run.status) == (True, "done")
    pause = run.activities.get(node_id="pause")
    assert pause.status == "done" and pause.report["wait_skipped"] is True
    page = marketer.get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert "waits are skipped" in page
    assert 'data-wait-skipped="pause">Wait skipped (test mode): a live run would wait until 20' in page
    # unticked: the test run waits, as before
    marketer.post(url("camp-test-run", workspace, pk=campaign.pk), {})
    queue()
    second = Run.objects.filter(campaign=campaign).order_by("-id").first()
    assert second.skip_waits is False
    assert second.activities.get(node_id="pause").status == "sleeping"
    assert "waits are skipped" not in marketer.get(url("camp-run", workspace, pk=second.pk)).content.decode()


def test_a_live_run_never_skips_waits(workspace, travel, alice):
    from apps.campaigns import executor

    campaign = services.campaign_create(workspace=workspace, actor=alice, name="Live wait", definition=WAITING)
    run = executor.run_create(campaign=campaign, version=services.latest_version(campaign), mode="live",
                              skip_waits=True)
    assert run.skip_waits is False


def test_sql_logs_are_for_admins_and_no_negative_row_counts(workspace, campaign, mallory, alice, client_for, queue):
    run = services.test_run_start(workspace=workspace, actor=mallory, campaign=campaign)
    queue()
    marketer_page = client_for(mallory).get(url("camp-run", workspace, pk=run.pk)).content.decode()
    admin_page = client_for(alice).get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert "sql-log" not in marketer_page and "CREATE UNLOGGED TABLE" not in marketer_page
    assert "sql-log" in admin_page and "CREATE UNLOGGED TABLE" in admin_page
    assert "-1 row" not in admin_page


def test_retry_is_offered_only_once_something_changed(workspace, campaign, mallory, client_for):
    from django.utils import timezone

    from apps.audiences import services as audience_services
    from apps.campaigns.models import ActivityRun

    run = Run.objects.create(workspace=workspace, campaign=campaign, version=services.latest_version(campaign),
                             status="failed", mode="test")
    ActivityRun.objects.create(workspace=workspace, run=run, node_id="nl", type="build_audience", status="failed",
                               error="boom", finished_at=timezone.now())
    marketer = client_for(mallory)
    page = marketer.get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert 'id="retry-nl"' not in page and 'id="retry-hint-nl"' in page
    audience_services.audience_create(workspace=workspace, actor=mallory, name="Fixed", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    page = marketer.get(url("camp-run", workspace, pk=run.pk)).content.decode()
    assert 'id="retry-nl"' in page and 'id="retry-hint-nl"' not in page


def test_the_buttons_say_which_version_runs(workspace, campaign, mallory, alice, client_for):
    owner = client_for(alice)
    page = owner.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert ">Test run v1<" in page and 'id="start-button"' not in page
    services.campaign_publish(workspace=workspace, actor=alice, campaign=campaign)
    services.draft_save(workspace=workspace, actor=mallory, campaign=campaign, definition=COMPLETE)
    page = owner.get(url("camp-detail", workspace, pk=campaign.pk)).content.decode()
    assert ">Test run v2<" in page and ">Start v1 now<" in page
    assert "Ready to publish." in page  # v2 is a draft again


def test_the_api_starts_a_test_run_that_skips_waits(workspace, travel, mallory, queue):
    campaign = services.campaign_create(workspace=workspace, actor=mallory, name="Waiting", definition=WAITING)
    client = _api(mallory)
    path = f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/test-runs/"
    assert client.post(path, {"skip_waits": "maybe"}, format="json").status_code == 400
    response = client.post(path, {"skip_waits": True}, format="json")
    assert response.status_code == 202 and response.json()["skip_waits"] is True
    queue()
    assert Run.objects.get(pk=response.json()["id"]).status == "done"


def test_approving_a_one_off_schedule_asks_to_confirm_the_send(workspace, campaign, mallory, approver, client_for):
    services.schedule_set(campaign=campaign, spec={"kind": "once", "at": "2099-01-01T09:00"})
    services.approval_request(workspace=workspace, actor=mallory, campaign=campaign)
    checker = client_for(approver)
    response = checker.post(url("camp-approval", workspace, pk=campaign.pk), {"action": "approve"})
    assert response.status_code == 200
    assert 'id="confirm-question">Send to up to 2 recipients on Email?<' in response.content.decode()
    assert services.published_version(campaign) is None
    checker.post(url("camp-approval", workspace, pk=campaign.pk),
                 {"action": "approve", "confirmed": "1", "shown_recipients": "2", "shown_channels": "Email"})
    assert services.published_version(campaign).published_by == approver
    published = AuditEvent.objects.get(workspace=workspace, verb="campaign.published")
    assert published.data["confirmed"]["recipients"] == 2
