"""python manage.py bench report [--messages N] [--workspaces W] [--deliveries D] [--repeat R]
                                [--case all|campaign|agency] [--keep]

A scratch agency of W client workspaces (default 5). The first holds a campaign whose D
live deliveries (default 10) sent N messages (default 10,000,000) with about three events
each (receipts, opens, some by Apple's proxy, clicks, bounces, complaints and
unsubscribes: ~30,000,000 for the default), spread over the last two weeks; the others a
smaller history each. The ledger is written the way sending writes it: messages created
queued, then marked sent in batches (the ledger's triggers append the report deltas),
events inserted in batches, then the deltas folded as beat does.

Cases (unit s, the median of R renders after one warm-up, through Django's test client:
the view, its queries and the template):
  campaign  the campaign's report page, beside a plain count(*) of its messages and events
            in the ledger (the baseline); the bar is 0.3 s.
  agency    the agency home, beside a plain count(*) of the agency's messages and events
            of the last 30 days; the bar is 0.5 s."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignVersion, Run
from apps.channels.models import Delivery
from apps.reports import services as report_services
from apps.tenants.models import Membership, Organization, Workspace
from bench.common import emit, peak_rss_mb

BATCH = 500_000  # messages per statement


def _execute(query: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def _scalar(query: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _campaign(workspace, name: str) -> Campaign:
    campaign = Campaign.objects.create(workspace=workspace, name=name, status="live")
    CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1, definition={
        "nodes": [{"id": "start", "type": "start"}, {"id": "mail", "type": "email", "settings": {}}],
        "edges": [{"from": "start", "outlet": "out", "to": "mail"}]})
    return campaign


def _delivery(workspace, campaign, n: int, sent_at: dt.datetime) -> Delivery:
    """One live delivery of `n` messages sent at `sent_at` (over an hour), and their events."""
    version = campaign.versions.first()
    run = Run.objects.create(workspace=workspace, campaign=campaign, version=version, mode="live", status="done",
                             started_at=sent_at, finished_at=sent_at + dt.timedelta(hours=1))
    delivery = Delivery.objects.create(workspace=workspace, channel="email", name=f"{campaign.name} #{run.pk}",
                                       campaign=campaign, run=run, node_id="mail", status="done",
                                       content={"subject": "x", "html": "x"}, expires_at=sent_at,
                                       counts={"queued": n, "excluded": {"no_consent": n // 20}}, total=n + n // 20)
    first = None
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        _execute(
            "INSERT INTO channels_message (workspace_id, delivery_id, profile_key, target_key, address, status, "
            "reason, attempts, provider_id, error) SELECT %s, %s, g::text, g::text, 'r' || g || '@' || "
            "(ARRAY['gmail.test','outlook.test','yahoo.test','icloud.test','web.test'])[1 + g %% 5], 'queued', '', "
            "0, '', '' FROM generate_series(%s, %s) g",
            [workspace.pk, delivery.pk, start + 1, start + size])
        if first is None:
            first = _scalar("SELECT min(id) FROM channels_message WHERE delivery_id = %s", [delivery.pk])
        low, high = first + start, first + start + size - 1
        # Marked sent as a sending task does (the trigger counts them), over the hour.
        _execute("UPDATE channels_message SET status = 'sent', attempts = 1, "
                 "sent_at = %s + (id - %s) * interval '1 hour' / %s WHERE id BETWEEN %s AND %s",
                 [sent_at, first, n, low, high])
        _events(workspace, low, high)
    return delivery


def _events(workspace, low: int, high: int) -> None:
    """About three events a message: a receipt each, 0-3 opens, a proxy open a seventh, a
    click a fifth, a bounce in a hundred, an unsubscribe in 500, a complaint in 2,000."""
    _execute(
        "INSERT INTO channels_messageevent (workspace_id, message_id, type, at, data) "
        "SELECT m.workspace_id, m.id, e.type, m.sent_at + e.after, e.data FROM channels_message m "
        "CROSS JOIN LATERAL (VALUES "
        "  ('delivered', interval '5 seconds', '{}'::jsonb, m.id %% 100 <> 0), "
        "  ('bounced', interval '20 seconds', '{}'::jsonb, m.id %% 100 = 0), "
        "  ('open', interval '90 seconds', '{\"machine\": \"apple_mpp\"}'::jsonb, m.id %% 7 = 0), "
        "  ('open', interval '1 hour' * (1 + m.id %% 40), '{}'::jsonb, m.id %% 4 >= 1), "
        "  ('open', interval '1 hour' * (5 + m.id %% 200), '{}'::jsonb, m.id %% 4 >= 2), "
        "  ('open', interval '1 hour' * (9 + m.id %% 300), '{}'::jsonb, m.id %% 4 = 3), "
        "  ('click', interval '1 hour' * (1 + m.id %% 40) + interval '30 seconds', "
        "   jsonb_build_object('url', 'https://shop.test/p/' || (m.id %% 12) || '?c=' || m.id), m.id %% 5 = 0), "
        "  ('unsubscribed', interval '2 hours', '{}'::jsonb, m.id %% 500 = 1), "
        "  ('complained', interval '3 hours', '{}'::jsonb, m.id %% 2000 = 2)"
        ") AS e(type, after, data, happens) WHERE m.id BETWEEN %s AND %s AND e.happens", [low, high])


def _progress(what: str, started: float) -> None:
    """Building the ledger takes minutes: where it is, on stderr (stdout is the figures)."""
    print(f"# {what}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _world(args) -> tuple[Organization, Campaign, list[Workspace]]:
    suffix = str(int(time.time()))
    org = Organization.objects.create(name=f"Bench agency {suffix}", slug=f"bench-report-{suffix}")
    workspaces = [Workspace.objects.create(organization=org, name=f"Client {i}", slug=f"bench-report-{suffix}-{i}")
                  for i in range(args.workspaces)]
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    campaign = _campaign(workspaces[0], "Big campaign")
    per = args.messages // args.deliveries
    started = time.perf_counter()
    for i in range(args.deliveries):
        _delivery(workspaces[0], campaign, per, now - dt.timedelta(days=14) + dt.timedelta(hours=33 * i))
        _progress(f"delivery {i + 1}/{args.deliveries} of the big campaign ({per:,} messages)", started)
    for workspace in workspaces[1:]:
        small = _campaign(workspace, "Newsletter")
        _delivery(workspace, small, max(per // 10, 1), now - dt.timedelta(days=3))
    _progress(f"{len(workspaces) - 1} other workspaces; folding the report deltas", started)
    report_services.rollups_compact()
    _execute("ANALYZE channels_message")
    _execute("ANALYZE channels_messageevent")
    print(f"# built in {time.perf_counter() - started:.0f} s", flush=True)
    return org, campaign, workspaces


def _median(fn, repeat: int) -> float:
    fn()  # warm-up: connections, template loading, plan caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench report")
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--workspaces", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--case", choices=["all", "campaign", "agency"], default="all")
    parser.add_argument("--keep", action="store_true", help="keep the scratch agency")
    args = parser.parse_args(argv)
    from django.contrib.auth import get_user_model

    from apps.tenants.lifecycle import workspace_delete

    org, campaign, workspaces = _world(args)
    user = get_user_model().objects.create_user(email=f"owner@{org.slug}.test")
    Membership.objects.create(organization=org, user=user, role="owner")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    ids = list(Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True))
    ws_ids = [w.pk for w in workspaces]
    messages = _scalar("SELECT count(*) FROM channels_message WHERE delivery_id = ANY(%s)", [ids])
    events = _scalar("SELECT count(*) FROM channels_messageevent e JOIN channels_message m ON m.id = e.message_id "
                     "WHERE m.delivery_id = ANY(%s)", [ids])

    def page(url: str):
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return get

    try:
        if args.case in ("all", "campaign"):
            ours = _median(page(f"/w/{workspaces[0].slug}/reports/campaigns/{campaign.pk}/"), args.repeat)
            baseline = _median(lambda: (
                _scalar("SELECT count(*) FROM channels_message WHERE delivery_id = ANY(%s)", [ids]),
                _scalar("SELECT count(*) FROM channels_messageevent e JOIN channels_message m ON m.id = e.message_id "
                        "WHERE m.delivery_id = ANY(%s)", [ids])), args.repeat)
            emit("report", "campaign", "s", ours, baseline, messages=messages, events=events,
                 deliveries=len(ids), under_300ms=ours <= 0.3, peak_rss_mb=peak_rss_mb())
        if args.case in ("all", "agency"):
            ours = _median(page(f"/agency/{org.slug}/"), args.repeat)
            since = timezone.now() - dt.timedelta(days=30)
            baseline = _median(lambda: (
                _scalar("SELECT count(*) FROM channels_message WHERE workspace_id = ANY(%s) AND sent_at >= %s",
                        [ws_ids, since]),
                _scalar("SELECT count(*) FROM channels_messageevent WHERE workspace_id = ANY(%s) AND at >= %s",
                        [ws_ids, since])), args.repeat)
            emit("report", "agency", "s", ours, baseline, workspaces=len(workspaces), under_500ms=ours <= 0.5,
                 peak_rss_mb=peak_rss_mb())
    finally:
        if not args.keep:
            for workspace in workspaces:
                workspace_delete(workspace=workspace)
            user.delete()
            org.delete()
