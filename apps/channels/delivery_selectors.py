"""Reads of the delivery ledger: a workspace's deliveries, one delivery's counts by state,
by exclusion reason and by event, and its messages; a profile's messages and the SQL
over the ledger that the send policy composes (frequency caps, the checks of a chunk),
so that it never names the ledger's tables. (Kept apart from selectors.py, which reads
templates and configuration.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet
from psycopg import sql

from apps.tenants.access import access_object
from apps.tenants.models import Workspace

from . import ledger
from .models import Delivery, EventType, Message, MessageEvent, MessageStatus

# States still moving: a delivery with messages in them is not finished sending.
PENDING = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.DEFERRED)
FILTERS = {"campaign": "campaign_id", "run": "run_id", "status": "status", "channel": "channel"}


def delivery_list(*, workspace: Workspace, filters: dict[str, Any] | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(workspace=workspace).select_related("campaign", "created_by")
    for key, field in FILTERS.items():
        value = (filters or {}).get(key)
        if value not in (None, ""):
            deliveries = deliveries.filter(**{field: value})
    return deliveries.order_by("-created_at", "-id")


def access_delivery(actor: Any, workspace: Workspace, pk: Any) -> Delivery:
    """The workspace's delivery; one 404 for missing and for another workspace's."""
    return access_object(Delivery.objects.select_related("campaign", "created_by"), workspace, pk)


def delivery_stats(*, delivery: Delivery) -> dict[str, Any]:
    """Counts by state and by exclusion reason (one GROUP BY over the messages) and the
    opens and clicks, in all and by distinct message (one more query)."""
    by_status = {s.value: 0 for s in MessageStatus}
    excluded: dict[str, int] = {}
    failed: dict[str, int] = {}
    rows = Message.objects.filter(delivery=delivery).order_by().values_list("status", "reason").annotate(
        n=Count("*"))
    for status, reason, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        if status == MessageStatus.EXCLUDED:
            excluded[reason or "unknown"] = excluded.get(reason or "unknown", 0) + n
        elif status == MessageStatus.FAILED:
            failed[reason or "error"] = failed.get(reason or "error", 0) + n
    engagement = {t: {"total": 0, "unique": 0} for t in (EventType.OPEN, EventType.CLICK)}
    for type_, total, unique in MessageEvent.objects.filter(
            message__delivery=delivery, type__in=list(engagement)).order_by().values_list("type").annotate(
            total=Count("*"), unique=Count("message_id", distinct=True)):
        engagement[type_] = {"total": total, "unique": unique}
    total = sum(by_status.values())
    pending = sum(by_status[s] for s in PENDING)
    to_send = total - by_status[MessageStatus.EXCLUDED]
    return {
        "total": total, "by_status": by_status, "excluded": dict(sorted(excluded.items(), key=lambda kv: -kv[1])),
        "failed": dict(sorted(failed.items(), key=lambda kv: -kv[1])), "pending": pending,
        "progress": round(100 * (to_send - pending) / to_send) if to_send else 100,
        "opens": engagement[EventType.OPEN], "clicks": engagement[EventType.CLICK],
    }


def reason_label(reason: str) -> str:
    return ledger.REASONS.get(reason, reason.replace("_", " "))


def message_list(*, delivery: Delivery, status: str | None = None) -> QuerySet[Message]:
    messages = Message.objects.filter(delivery=delivery)
    if status:
        messages = messages.filter(status=status)
    return messages.order_by("id")


# --- for the layers above: a profile's messages, and the ledger in SQL ----------------------

def profile_messages(*, workspace: Workspace, profile_key: str) -> QuerySet[Message]:
    """Every message of the workspace to the profile `profile_key` (as the ledger stores it)."""
    # The sent ones are indexed by profile (message_sent_profile); the others (excluded,
    # failed...) are found by a scan, which a rare request of one admin can afford.
    return Message.objects.filter(workspace_id=workspace.pk, profile_key=profile_key)


def message_events(*, workspace: Workspace, message_ids: Iterable[int]) -> QuerySet[MessageEvent]:
    """The events of the workspace's messages `message_ids`, by message, then in time order."""
    return MessageEvent.objects.filter(workspace=workspace, message__in=list(message_ids)) \
        .order_by("message_id", "at", "id")


def message_table() -> sql.Composable:
    """The message ledger as an SQL table, for a statement over the messages a send policy
    is handed (columns id, workspace_id, delivery_id, profile_key, target_key, address as
    classified, status, sent_at)."""
    return sql.Identifier(Message._meta.db_table)


def cap_ledger_sql(*, workspace_id: int, within: str, channel: str = "", statuses: Iterable[str]) -> sql.Composable:
    """FROM ... WHERE over the message ledger (alias m) that a frequency cap counts: the
    messages of the workspace's marketing deliveries (not proofs, not transactional) on
    `channel` ("": every channel), in one of `statuses`, sent (not sent yet: created)
    within `within` (a PostgreSQL interval, e.g. '7 days'). Set-based: the caller adds
    conditions with AND, and groups or counts."""
    period = sql.Literal(within)
    return sql.SQL(
        "FROM {m} m JOIN {d} d ON d.id = m.delivery_id "
        "WHERE m.workspace_id = {w} AND d.workspace_id = {w} "
        "AND d.created_at > now() - {p}::interval - interval '2 days' "
        "AND NOT d.proof AND coalesce(d.options ->> 'category', 'marketing') = 'marketing' {chan} "
        "AND m.status IN ({statuses}) AND coalesce(m.sent_at, d.created_at) > now() - {p}::interval").format(
        m=message_table(), d=sql.Identifier(Delivery._meta.db_table), w=sql.Literal(workspace_id), p=period,
        chan=sql.SQL("AND d.channel = {}").format(sql.Literal(channel)) if channel else sql.SQL(""),
        statuses=sql.SQL(", ").join(sql.Literal(s) for s in statuses))
