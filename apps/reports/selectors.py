"""Reports read from the rollups (apps/reports/models.py), never by counting the ledger:
a delivery's report is a few hundred small rows whatever its size, a campaign's is the
sum over its deliveries, the agency's the sum over its workspaces."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg import sql

from apps.channels.models import Delivery

# Mailbox providers' published limits (Gmail and Yahoo bulk sender rules, 2024): a spam
# complaint rate to stay under, and the one never to reach.
COMPLAINT_RATE_TARGET = 0.001
COMPLAINT_RATE_LIMIT = 0.003
BOUNCE_RATE_LIMIT = 0.02
SERIES_METRICS = ("sent", "open", "click", "bounced")
HOURLY_FOR = timedelta(days=3)  # a series is hourly for its first days, then daily


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Report:
    """The figures of one delivery, or the sum of several (a run, a campaign, a workspace)."""

    channels: set[str] = field(default_factory=set)
    targeted: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deliveries: int = 0
    # SMS cost: each delivery's segments at the price per segment it was sent at (None:
    # no delivery had a price).
    cost: float | None = None

    def add_delivery(self, delivery: Delivery) -> None:
        self.deliveries += 1
        self.channels.add(delivery.channel)
        counts = delivery.counts or {}
        self.targeted += int(counts.get("total") or delivery.total or 0)
        for reason, n in (counts.get("excluded") or {}).items():
            self.excluded[reason] = self.excluded.get(reason, 0) + int(n)

    def add_metric(self, metric: str, n: int, price: float | None = None) -> None:
        if metric == "segments" and price is not None:
            self.cost = (self.cost or 0.0) + n * float(price)
        if metric.startswith("excluded:"):
            reason = metric.split(":", 1)[1]
            self.excluded[reason] = self.excluded.get(reason, 0) + n
        else:
            self.metrics[metric] += n

    def m(self, name: str) -> int:
        return int(self.metrics.get(name, 0))

    @property
    def failed_by_reason(self) -> dict[str, int]:
        found = {k.split(":", 1)[1]: v for k, v in self.metrics.items() if k.startswith("failed:")}
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))

    def figures(self) -> dict[str, Any]:
        """Counts with their rates: delivery, bounce, complaint and unsubscribe rates per
        sent message; opens and clicks per delivered one (per sent where no receipts
        arrive); click-to-open over unique opens. Machine opens and clicks (privacy
        proxies, scanners) are counted apart and left out of the human figures."""
        sent, delivered = self.m("sent"), self.m("delivered_unique")
        reached = delivered or sent
        clicks_unique = self.m("click_unique")
        excluded = sum(self.excluded.values())
        failed = self.m("failed")
        return {
            "deliveries": self.deliveries, "channels": sorted(self.channels),
            "targeted": self.targeted, "excluded": excluded,
            "excluded_by_reason": dict(sorted(self.excluded.items(), key=lambda kv: -kv[1])),
            "sent": sent, "failed": failed, "failed_by_reason": self.failed_by_reason,
            "expired": self.m("expired"), "cancelled": self.m("cancelled"),
            "delivered": delivered, "delivery_rate": _rate(delivered, sent),
            "undelivered": self.m("bounced_unique") + self.m("soft_bounced_unique"),
            "bounced_hard": self.m("bounced_unique"), "bounced_soft": self.m("soft_bounced_unique"),
            "bounce_rate": _rate(self.m("bounced_unique"), sent),
            "complained": self.m("complained_unique"), "complaint_rate": _rate(self.m("complained_unique"), sent),
            "opened_unique": self.m("open_unique"), "opened_total": self.m("open"),
            "opened_machine": self.m("open_machine"), "opened_human_unique": self.m("open_human_unique"),
            "clicked_human_unique": self.m("click_human_unique"),
            "open_rate": _rate(self.m("open_unique"), reached),
            "clicked_unique": clicks_unique, "clicked_total": self.m("click"),
            "clicked_machine": self.m("click_machine"),
            "click_rate": _rate(clicks_unique, reached),
            "click_to_open": _rate(clicks_unique, self.m("open_unique")),
            "unsubscribed": self.m("unsubscribed_unique"), "unsubscribe_rate": _rate(self.m("unsubscribed_unique"), sent),
            "segments": self.m("segments"), "segments_per_message": _rate(self.m("segments"), sent),
            "sms_cost": round(self.cost, 4) if self.cost is not None else None,
        }


def _rows(query: sql.Composable, params: Iterable[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, list(params))
        return cursor.fetchall()


def _for_deliveries(deliveries: list[Delivery]) -> Report:
    report = Report()
    for delivery in deliveries:
        report.add_delivery(delivery)
    if deliveries:
        prices = {d.pk: _price(d) for d in deliveries}
        for delivery_id, metric, n in _rows(sql.SQL(
                "SELECT delivery_id, metric, sum(n) FROM reports_hourly WHERE delivery_id = ANY(%s) GROUP BY 1, 2"),
                [list(prices)]):
            report.add_metric(metric, int(n), prices[delivery_id])
    return report


def _price(delivery: Delivery) -> float | None:
    """The price per segment an SMS delivery was sent at (snapshot in its options)."""
    price = (delivery.options or {}).get("price_per_segment") if delivery.channel == "sms" else None
    try:
        return float(price) if price is not None else None
    except (TypeError, ValueError):
        return None


def delivery_report(*, delivery: Delivery) -> dict[str, Any]:
    return _for_deliveries([delivery]).figures()


def deliveries_of(*, workspace, campaign=None, run=None) -> list[Delivery]:
    """The live (not proof) deliveries of a campaign or of one of its runs."""
    qs = Delivery.objects.filter(workspace=workspace, proof=False)
    if run is not None:
        qs = qs.filter(run=run)
    elif campaign is not None:
        qs = qs.filter(campaign=campaign)
    return list(qs.order_by("created_at", "id"))


def report_of(deliveries: list[Delivery]) -> dict[str, Any]:
    return _for_deliveries(deliveries).figures()


def per_delivery(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """One report per delivery, from one query."""
    by_delivery: dict[int, Report] = {}
    deliveries_by_id = {d.pk: d for d in deliveries}
    for delivery in deliveries:
        by_delivery[delivery.pk] = Report()
        by_delivery[delivery.pk].add_delivery(delivery)
    if deliveries:
        for delivery_id, metric, n in _rows(sql.SQL(
                "SELECT delivery_id, metric, sum(n) FROM reports_hourly WHERE delivery_id = ANY(%s) "
                "GROUP BY 1, 2"), [list(by_delivery)]):
            by_delivery[delivery_id].add_metric(metric, int(n), _price(deliveries_by_id[delivery_id]))
    return [{"delivery": d, **by_delivery[d.pk].figures()} for d in deliveries]


def series(deliveries: list[Delivery], metrics: Iterable[str] = SERIES_METRICS) -> dict[str, Any]:
    """Sends, opens, clicks and bounces over time: by hour for the first three days from
    the first send, then by day. Gaps are filled with zeros so a chart's x axis is time."""
    metrics = list(metrics)
    ids = [d.pk for d in deliveries]
    rows = _rows(sql.SQL(
        "SELECT hour, metric, sum(n) FROM reports_hourly WHERE delivery_id = ANY(%s) AND metric = ANY(%s) "
        "GROUP BY 1, 2 ORDER BY 1"), [ids, metrics]) if ids else []
    if not rows:
        return {"step": "hour", "points": [], "metrics": metrics}
    start = rows[0][0]
    end = max(r[0] for r in rows)
    daily = end - start > HOURLY_FOR
    step = timedelta(days=1) if daily else timedelta(hours=1)

    def bucket(at: datetime) -> datetime:
        return at.replace(hour=0, minute=0, second=0, microsecond=0) if daily else at

    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(metrics, 0))
    for hour, metric, n in rows:
        counts[bucket(hour)][metric] += int(n)
    points, at = [], bucket(start)
    while at <= bucket(end):
        points.append({"at": at, **counts.get(at, dict.fromkeys(metrics, 0))})
        at += step
    return {"step": "day" if daily else "hour", "points": points, "metrics": metrics}


def links(deliveries: list[Delivery], limit: int = 100) -> list[dict[str, Any]]:
    """Clicks per link, most clicked first."""
    ids = [d.pk for d in deliveries]
    if not ids:
        return []
    return [{"url": url, "total": int(total), "unique": int(uniq)} for url, total, uniq in _rows(sql.SQL(
        "SELECT url, sum(total), sum(uniq) FROM reports_links WHERE delivery_id = ANY(%s) "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"), [ids, limit])]


def domains(deliveries: list[Delivery], limit: int = 20) -> list[dict[str, Any]]:
    """By recipient domain (the mailbox provider): sent, delivered, bounced, complaints,
    opens and clicks (unique), biggest first; the rest summed as "other"."""
    ids = [d.pk for d in deliveries]
    if not ids:
        return []
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for domain, metric, n in _rows(sql.SQL(
            "SELECT domain, metric, sum(n) FROM reports_domains WHERE delivery_id = ANY(%s) GROUP BY 1, 2"), [ids]):
        table[domain][metric] += int(n)
    ordered = sorted(table.items(), key=lambda kv: (-kv[1].get("sent", 0), kv[0]))
    head, tail = ordered[:limit], ordered[limit:]
    if tail:
        other: dict[str, int] = defaultdict(int)
        for _, row in tail:
            for metric, n in row.items():
                other[metric] += n
        head.append((f"other ({len(tail)} domains)", other))
    result = []
    for domain, row in head:
        sent = row.get("sent", 0)
        result.append({"domain": domain, "sent": sent, "delivered": row.get("delivered", 0),
                       "bounced": row.get("bounced", 0), "complained": row.get("complained", 0),
                       "opened": row.get("open", 0), "clicked": row.get("click", 0),
                       "open_rate": _rate(row.get("open", 0), sent), "bounce_rate": _rate(row.get("bounced", 0), sent)})
    return result


def workspaces_summary(workspace_ids: list[int], *, days: int = 30) -> dict[int, dict[str, Any]]:
    """The last `days` of each workspace, from the hourly rollups: one query."""
    since = timezone.now() - timedelta(days=days)
    reports: dict[int, Report] = {pk: Report() for pk in workspace_ids}
    if workspace_ids:
        for workspace_id, metric, n in _rows(sql.SQL(
                "SELECT workspace_id, metric, sum(n) FROM reports_hourly "
                "WHERE workspace_id = ANY(%s) AND hour >= %s GROUP BY 1, 2"), [workspace_ids, since]):
            reports[workspace_id].add_metric(metric, int(n))
    return {pk: report.figures() for pk, report in reports.items()}


def workspace_series(workspace_id: int, *, days: int = 30,
                     metrics: Iterable[str] = ("sent", "open", "click")) -> dict[str, Any]:
    """A workspace's sends, opens and clicks per day over the last `days` days (zeros
    where nothing happened), from the hourly rollups."""
    metrics = list(metrics)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(metrics, 0))
    for day, metric, n in _rows(sql.SQL(
            "SELECT date_trunc('day', hour, 'UTC'), metric, sum(n) FROM reports_hourly "
            "WHERE workspace_id = %s AND hour >= %s AND metric = ANY(%s) GROUP BY 1, 2"), [workspace_id, start, metrics]):
        counts[day][metric] += int(n)
    points = [{"at": start + timedelta(days=i), **counts.get(start + timedelta(days=i), dict.fromkeys(metrics, 0))}
              for i in range(days)]
    return {"step": "day", "points": points, "metrics": metrics}


def recent_deliveries(*, workspace, limit: int = 8) -> list[Delivery]:
    return list(Delivery.objects.filter(workspace=workspace, proof=False).select_related("campaign")
                .order_by("-created_at", "-id")[:limit])
