"""The deliveries API: list and filters, one delivery's counts by state, by exclusion
reason and its opens and clicks, its messages page by page, and stopping it (approvers)."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.campaigns.models import Campaign, CampaignVersion, Run
from apps.channels.models import Delivery, Message, MessageEvent
from tests.channels.delivery_rows import make_delivery
from tests.factories import make_api_key
from tests.isolation.world import database_digest


class Api:
    def __init__(self, workspace, role: str = "viewer"):
        _, raw = make_api_key(workspace, role=role, name=f"test {role} {workspace.slug}")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.prefix = f"/api/v1/workspaces/{workspace.slug}/"

    def get(self, path: str, **params):
        return self.client.get(self.prefix + path, params)

    def post(self, path: str):
        return self.client.post(self.prefix + path, "", content_type="application/json")


@pytest.fixture
def viewer(workspace):
    return Api(workspace, "viewer")


@pytest.fixture
def approver(workspace):
    return Api(workspace, "approver")


def _run(workspace):
    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1, definition={})
    return Run.objects.create(workspace=workspace, campaign=campaign, version=version, mode="live", status="done")


def _events(delivery, opens: dict[int, int], clicks: dict[int, int]):
    sent = list(Message.objects.filter(delivery=delivery, status="sent").order_by("id"))
    rows = []
    for kind, spec in (("open", opens), ("click", clicks)):
        for index, n in spec.items():
            rows += [MessageEvent(workspace_id=delivery.workspace_id, message=sent[index], type=kind, data={})
                     for _ in range(n)]
    MessageEvent.objects.bulk_create(rows)


def test_one_delivery_with_its_counts_by_state_reason_and_engagement(workspace, viewer, django_assert_num_queries):
    # given a delivery with messages in several states and some opens and clicks
    delivery = make_delivery(workspace, statuses={
        "sent": 4, "queued": 2, "failed:rejected": 1, "excluded:no_address": 3, "excluded:duplicate_address": 1})
    _events(delivery, opens={0: 3, 1: 1}, clicks={0: 2})
    viewer.get("deliveries/")  # the key's last use is written at most once a minute
    # when it is read
    with django_assert_num_queries(7):  # key, workspace, delivery, the GROUP BY, the events; a savepoint pair
        response = viewer.get(f"deliveries/{delivery.pk}/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == delivery.pk and body["status"] == "sending" and body["channel"] == "email"
    assert body["content"]["subject"] == "Hello {{ profile.first_name }}"
    stats = body["stats"]
    assert stats["total"] == 11 and stats["pending"] == 2
    assert stats["by_status"] == {"queued": 2, "sending": 0, "sent": 4, "deferred": 0, "failed": 1, "excluded": 4,
                                  "expired": 0, "cancelled": 0}
    assert stats["excluded"] == {"no_address": 3, "duplicate_address": 1}
    assert stats["failed"] == {"rejected": 1}
    assert stats["progress"] == round(100 * 5 / 7)
    assert stats["opens"] == {"total": 4, "unique": 2} and stats["clicks"] == {"total": 2, "unique": 1}


def test_the_list_filters_by_campaign_run_and_status(workspace, viewer):
    run = _run(workspace)
    mine = make_delivery(workspace, statuses={"sent": 1}, run=run, campaign=run.campaign, status="done")
    other = make_delivery(workspace, statuses={"queued": 1})
    assert [d["id"] for d in viewer.get("deliveries/").json()["results"]] == [other.pk, mine.pk]
    assert [d["id"] for d in viewer.get("deliveries/", run=run.pk).json()["results"]] == [mine.pk]
    assert [d["id"] for d in viewer.get("deliveries/", campaign=run.campaign_id).json()["results"]] == [mine.pk]
    assert [d["id"] for d in viewer.get("deliveries/", status="sending").json()["results"]] == [other.pk]
    first = viewer.get("deliveries/", run=run.pk).json()["results"][0]
    assert (first["run"], first["campaign"], first["total"]) == (run.pk, run.campaign_id, 1)
    assert first["url"].endswith(f"/api/v1/workspaces/{workspace.slug}/deliveries/{mine.pk}/")
    assert viewer.get("deliveries/", status="nonsense").status_code == 400


def test_messages_page_by_page_and_by_status(workspace, viewer):
    delivery = make_delivery(workspace, statuses={"sent": 3, "excluded:no_address": 2})
    page = viewer.get(f"deliveries/{delivery.pk}/messages/", limit=2).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    ids = [m["id"] for m in page["results"]]
    assert ids == sorted(Message.objects.filter(delivery=delivery).values_list("id", flat=True))[:2]
    excluded = viewer.get(f"deliveries/{delivery.pk}/messages/", status="excluded").json()
    assert excluded["count"] == 2
    assert {(m["status"], m["reason"]) for m in excluded["results"]} == {("excluded", "no_address")}
    assert set(excluded["results"][0]) == {"id", "profile_key", "target_key", "address", "status", "reason",
                                           "error", "attempts", "sent_at", "provider_id"}


def test_an_approver_stops_a_delivery_and_queued_messages_are_cancelled(workspace, approver):
    delivery = make_delivery(workspace, statuses={"queued": 3, "sent": 1, "sending": 1})
    response = approver.post(f"deliveries/{delivery.pk}/stop/")
    assert response.status_code == 200
    body = response.json()
    assert body["cancelled"] == 3 and body["delivery"]["status"] == "stopped"
    assert body["delivery"]["stats"]["by_status"]["cancelled"] == 3
    states = sorted(Message.objects.filter(delivery=delivery).values_list("status", flat=True))
    assert states == ["cancelled", "cancelled", "cancelled", "sending", "sent"]
    # a second stop is a conflict
    again = approver.post(f"deliveries/{delivery.pk}/stop/")
    assert again.status_code == 409 and again.json()["detail"] == "The delivery is already stopped."


def test_a_marketer_cannot_stop_a_delivery_and_nothing_changes(workspace):
    delivery = make_delivery(workspace, statuses={"queued": 2})
    marketer = Api(workspace, "marketer")
    before = database_digest()
    assert marketer.post(f"deliveries/{delivery.pk}/stop/").status_code == 403
    assert database_digest() == before
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"


def test_another_workspaces_delivery_is_not_found(workspace, other_workspace, viewer):
    theirs = make_delivery(other_workspace, statuses={"sent": 1})
    for path in (f"deliveries/{theirs.pk}/", f"deliveries/{theirs.pk}/messages/"):
        assert viewer.get(path).status_code == 404
    assert viewer.get("deliveries/").json()["count"] == 0
    assert viewer.get("deliveries/", run=1, campaign=1).json()["count"] == 0


def test_the_openapi_schema_describes_the_delivery_endpoints(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    expected = {"deliveries/": {"get"}, "deliveries/{id}/": {"get"}, "deliveries/{id}/messages/": {"get"},
                "deliveries/{id}/stop/": {"post"}}
    for path, methods in expected.items():
        assert set(schema["paths"][prefix + path]) == methods, path
    listing = {p["name"] for p in schema["paths"][prefix + "deliveries/"]["get"]["parameters"]}
    assert listing == {"workspace_slug", "campaign", "run", "status", "channel", "limit", "offset"}
    stats = schema["components"]["schemas"]["StatsOutput"]["properties"]
    assert set(stats) == {"total", "by_status", "excluded", "failed", "pending", "progress", "opens", "clicks"}
    assert "MessageStatusEnum" in schema["components"]["schemas"]


def test_a_delivery_paused_by_a_provider_outage_shows_it(workspace, viewer):
    import datetime as dt

    from django.utils import timezone

    since = timezone.now().replace(microsecond=0)
    delivery = make_delivery(workspace, statuses={"queued": 2})
    assert viewer.get(f"deliveries/{delivery.pk}/").json()["outage"] is None
    Delivery.objects.filter(pk=delivery.pk).update(
        outage_since=since, outage_failures=2, outage_error="421 4.3.2 Service not available",
        paused_until=since + dt.timedelta(seconds=10))
    outage = viewer.get(f"deliveries/{delivery.pk}/").json()["outage"]
    later = since + dt.timedelta(seconds=10)
    assert outage == {
        "since": since.isoformat(), "failures": 2, "error": "421 4.3.2 Service not available",
        "retrying_at": later.isoformat(),
        "note": f"Provider unreachable since {since:%Y-%m-%d %H:%M:%S} UTC (2 failed connections: 421 4.3.2 "
                f"Service not available), retrying at {later:%Y-%m-%d %H:%M:%S} UTC."}
