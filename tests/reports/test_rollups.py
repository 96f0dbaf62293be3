"""Report counts kept by the ledger's triggers, from a real send and real tracking hits."""

import datetime as dt
import re
from urllib.parse import urlsplit

from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.channels import events
from apps.channels.models import Delivery, Message, MessageEvent
from apps.reports import selectors, services
from apps.reports.models import DeliveryRollup, DomainRollup, LinkRollup, RollupDelta
from tests.channels.delivery_rows import make_delivery
from tests.channels.test_sending import live_run, parsed

PERSON = {"HTTP_USER_AGENT": "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Thunderbird/128", "REMOTE_ADDR": "203.0.113.7"}
APPLE_PROXY = {"HTTP_USER_AGENT": "Mozilla/5.0", "REMOTE_ADDR": "17.58.1.2"}


def _links(received):
    html = parsed(received).get_body(("html",)).get_content()
    return (urlsplit(re.search(r'href="([^"]*/t/c/[^"]+)"', html).group(1)).path,
            urlsplit(re.search(r'src="([^"]*/t/o/[^"]+)"', html).group(1)).path)


def test_a_sent_campaign_is_counted_as_it_sends_and_as_people_open_and_click(
        workspace, travel, email_config, sink, queue, sends):
    # given a live email to three customers, really sent
    run = live_run(workspace)
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    # (hits come a minute after the send: hits within seconds are a scanner's)
    Message.objects.filter(delivery=delivery).update(sent_at=timezone.now() - dt.timedelta(minutes=1))
    by_to = {r.rcpt_tos[0]: _links(r) for r in sink.received()}
    anna_click, anna_pixel = by_to["anna@example.test"]
    ben_click, ben_pixel = by_to["ben@example.test"]
    # when Anna opens twice and clicks twice, Apple's proxy fetches Ben's pixel, and Ben clicks
    for path in (anna_pixel, anna_pixel, anna_click, anna_click):
        Client(**PERSON).get(path)
    Client(**APPLE_PROXY).get(ben_pixel)
    Client(**PERSON).get(ben_click)
    report = selectors.delivery_report(delivery=delivery)
    # then the report counts them, machine opens apart, without counting the ledger
    assert report["targeted"] == 3 and report["sent"] == 3 and report["failed"] == 0
    assert (report["opened_total"], report["opened_unique"], report["opened_machine"],
            report["opened_human_unique"]) == (3, 2, 1, 1)
    assert (report["clicked_total"], report["clicked_unique"]) == (3, 2)
    assert report["click_to_open"] == 1.0 and report["open_rate"] == round(2 / 3, 4)
    # clicks per link: one line for the personalized link (its query string dropped)
    assert selectors.links([delivery]) == [{"url": "https://travel.test/offers", "total": 3, "unique": 2}]
    (domain,) = selectors.domains([delivery])
    assert (domain["domain"], domain["sent"], domain["opened"], domain["clicked"]) == ("example.test", 3, 2, 2)
    points = selectors.series([delivery])["points"]
    assert sum(p["sent"] for p in points) == 3 and sum(p["open"] for p in points) == 3
    # and folding the deltas into the rollups changes no figure
    assert services.rollups_compact() > 0
    assert not RollupDelta.objects.exists()
    assert DeliveryRollup.objects.filter(delivery=delivery, metric="sent").get().n == 3
    assert LinkRollup.objects.get(delivery=delivery).total == 3
    assert DomainRollup.objects.filter(delivery=delivery).exists()
    assert selectors.delivery_report(delivery=delivery) == report
    assert all(r.workspace_id == workspace.pk for r in DeliveryRollup.objects.filter(delivery=delivery))


def test_failures_exclusions_and_bounces_are_counted_once_each(workspace):
    delivery = make_delivery(workspace, statuses={"sending": 4, "queued": 1})
    messages = list(Message.objects.filter(delivery=delivery).order_by("id"))
    sending_ids = [m.pk for m in messages[:4]]
    with connection.cursor() as cursor:
        # two are accepted, one refused by the server, one excluded at send (suppressed since)
        cursor.execute("UPDATE channels_message SET status = 'sent', sent_at = now() WHERE id = ANY(%s)",
                       [sending_ids[:2]])
        cursor.execute("UPDATE channels_message SET status = 'failed', reason = 'rejected' WHERE id = %s",
                       [sending_ids[2]])
        cursor.execute("UPDATE channels_message SET status = 'excluded', reason = 'suppressed' WHERE id = %s",
                       [sending_ids[3]])
        # an UPDATE that changes no state counts nothing
        cursor.execute("UPDATE channels_message SET attempts = attempts + 1 WHERE delivery_id = %s", [delivery.pk])
    first = Message.objects.get(pk=sending_ids[0])
    # a hard bounce of a sent message (recorded twice by the provider) and a complaint
    events.event_record(message=first, type="bounced", data={})
    events.event_record(message=first, type="bounced", data={})
    Message.objects.filter(pk=first.pk).update(status="failed", reason="bounced")  # what a bounce does
    events.event_record(message=Message.objects.get(pk=sending_ids[1]), type="complained", data={})
    report = selectors.delivery_report(delivery=delivery)
    assert report["sent"] == 2
    assert report["failed"] == 1 and report["failed_by_reason"] == {"rejected": 1}
    assert report["excluded_by_reason"] == {"suppressed": 1}
    assert report["bounced_hard"] == 1 and report["bounce_rate"] == 0.5
    assert report["complained"] == 1 and report["complaint_rate"] == 0.5


def test_the_agency_summary_sums_the_last_30_days_per_workspace(workspace, other_workspace):
    mine = make_delivery(workspace, statuses={"queued": 2})
    theirs = make_delivery(other_workspace, statuses={"queued": 5})
    Message.objects.filter(delivery__in=[mine, theirs]).update(status="sent", sent_at=timezone.now())
    old = make_delivery(workspace, statuses={"queued": 1})
    Message.objects.filter(delivery=old).update(status="sent", sent_at=timezone.now() - dt.timedelta(days=40))
    summary = selectors.workspaces_summary([workspace.pk, other_workspace.pk])
    assert summary[workspace.pk]["sent"] == 2 and summary[other_workspace.pk]["sent"] == 5
    services.rollups_compact()
    assert selectors.workspaces_summary([workspace.pk])[workspace.pk]["sent"] == 2


def test_deltas_of_a_deleted_delivery_are_dropped_when_folded(workspace):
    delivery = make_delivery(workspace, statuses={"queued": 2})
    Message.objects.filter(delivery=delivery).update(status="sent", sent_at=timezone.now())
    MessageEvent.objects.all().delete()
    delivery.delete()
    services.rollups_compact()
    assert not RollupDelta.objects.filter(delivery_id=delivery.pk).exists()
    assert not DeliveryRollup.objects.filter(delivery_id=delivery.pk).exists()
