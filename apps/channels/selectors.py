"""Reads of the messages layer: templates, the channel configuration, previews (one real
record rendered with a template, picked by key or at random), and the delivery ledger: a
workspace's deliveries, one delivery's counts by state, by exclusion reason and by event,
and its messages; a profile's messages and the SQL over the ledger that the send policy
composes (frequency caps), so that no layer above names the ledger's tables."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DataError, connection, transaction
from django.db.models import Count, QuerySet
from psycopg import sql

from apps.core.sqlutil import render
from apps.datamodel import ddl
from apps.datamodel.schema import Schema
from apps.tenants.access import access_object
from apps.tenants.models import Workspace

from . import content as content_mod
from . import ledger
from .models import (
    ChannelConfig,
    ContentTemplate,
    Delivery,
    EventType,
    Message,
    MessageEvent,
    MessageStatus,
)
from .personalization import Renderer, TemplateProblem

HIDDEN = ("_updated_at",)
# A random record without reading the whole table: sample about this many rows first.
RANDOM_SAMPLE_ROWS = 200


def template_list(*, workspace, channel: str | None = None) -> QuerySet[ContentTemplate]:
    templates = ContentTemplate.objects.filter(workspace=workspace).select_related("created_by")
    return templates.filter(channel=channel) if channel else templates


def access_template(actor: Any, workspace, pk: Any) -> ContentTemplate:
    return access_object(ContentTemplate.objects.select_related("created_by"), workspace, pk)


def channel_config(*, workspace, channel: str = "email") -> ChannelConfig | None:
    return ChannelConfig.objects.filter(workspace=workspace, channel=channel).first()


def template_users(*, workspace, template: ContentTemplate) -> list[str]:
    """Names of the campaigns (not archived) with a version that uses the template."""
    from apps.campaigns.models import CampaignVersion  # noqa: PLC0415 - campaigns build on channels

    uses = CampaignVersion.objects.filter(
        workspace=workspace, definition__contains={"nodes": [{"settings": {"template_id": template.pk}}]}
    ).exclude(campaign__status="archived").values_list("campaign__name", flat=True).distinct()
    return sorted(uses)


def template_problems(*, workspace, channel: str, content: dict[str, Any], entity_key: str = ""
                      ) -> list[TemplateProblem]:
    """What saving would refuse, each problem with its field and line (empty: fine)."""
    schema = Schema.load(workspace)
    target = schema.entities.get(entity_key) if entity_key else None
    if entity_key and target is None:
        return [TemplateProblem("entity_key", f"no entity {entity_key!r} in this workspace")]
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    names = content_mod.model_names(schema, target or profile, profile)
    return content_mod.problems(channel, content, names, require=False)


class PreviewError(Exception):
    """Why there is nothing to preview (no such record, no profile dimension...)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class Preview:
    entity: str
    key: Any
    fields: dict[str, str]  # rendered: subject, preheader, html, text, from_name / html, css...
    content: dict[str, Any]  # the resolved content (sender defaults filled in)
    context: dict[str, Any]


def _loads(value):
    return json.loads(value) if isinstance(value, str) else value


def preview_context(*, workspace, entity_key: str = "", key: Any = None) -> tuple[str, Any, dict[str, Any]]:
    """(entity, key, render context) for one record of `entity_key` (the profile dimension
    when empty): the record by key, or one at random. The context is built as a send
    builds it (sending.context_for): profile, target, workspace, language and time zone."""
    schema = Schema.load(workspace)
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    if profile is None:
        raise PreviewError("the data model has no profile dimension (mark the entity messages go to)")
    target = schema.entities.get(entity_key) if entity_key else profile
    if target is None:
        raise PreviewError(f"no entity {entity_key!r} in this workspace", "entity")
    try:
        audience = ledger.audience_for(workspace, schema, "email", target, {})
    except ledger.AudienceError as exc:
        raise PreviewError(str(exc), "entity") from exc
    pk = schema.pk(target)
    joins, alias = [], "t"
    for i, rel in enumerate(audience.path):
        nxt = "p" if i + 1 == len(audience.path) else f"l{i + 1}"
        joins.append(sql.SQL("LEFT JOIN {t} {a} ON {a}.{pk} = {s}.{fk}").format(
            t=ddl.table(rel.target), a=sql.Identifier(nxt), pk=ddl.column(schema.pk(rel.target)),
            s=sql.Identifier(alias), fk=ddl.column(rel.attribute)))
        alias = nxt
    profile_row = sql.SQL("to_jsonb(p)") if audience.path else sql.SQL("to_jsonb(t)")

    def select(sample: sql.Composable | None = None) -> sql.Composable:
        return sql.SQL("SELECT t.{pk}, to_jsonb(t), {profile} FROM {table} t {sample} {joins} ").format(
            pk=ddl.column(pk), profile=profile_row, table=ddl.table(target), sample=sample or sql.SQL(""),
            joins=sql.SQL(" ").join(joins))

    if key not in (None, ""):
        query = select() + sql.SQL("WHERE t.{} = %(key)s::{}").format(ddl.column(pk), ddl.sql_type(pk.type))
        row = _fetch(query, {"key": str(key)})
        if row is None:
            raise PreviewError(f"no {target.key} with key {key!r}", "key")
    else:
        row = _random_row(select, target)
        if row is None:
            raise PreviewError(f"{target.key} has no records yet", "key")
    record_key, target_row, profile_row_value = row[0], _loads(row[1]) or {}, _loads(row[2]) or {}
    strip = lambda r: {k: v for k, v in r.items() if k not in HIDDEN}  # noqa: E731
    profile_data = strip(profile_row_value)
    context = {
        "workspace": {"name": workspace.name, "time_zone": workspace.time_zone,
                      "language": workspace.default_language},
        "variables": {}, "profile": profile_data, "target": strip(target_row), "enrichment": {},
        "message": {"id": 0}, "links": {},
        "_locale": workspace.default_language or "en", "_tz": workspace.time_zone or "UTC",
    }
    for role, name in (("language", "_locale"), ("timezone", "_tz")):
        attribute = audience.mappings.get(role)
        if attribute is not None and profile_data.get(attribute.key):
            context[name] = profile_data[attribute.key]
    return target.key, record_key, context


def _fetch(query: sql.Composable, params: dict[str, Any]):
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a bad key cast is no record
            cursor.execute(render(query), params)
            return cursor.fetchone()
    except DataError:
        return None


def _random_row(select, target):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [render(ddl.table(target))])
        found = cursor.fetchone()
    estimate = float(found[0]) if found and found[0] else 0.0
    if estimate > RANDOM_SAMPLE_ROWS * 10:
        # ORDER BY random() reads every row; a block sample of about RANDOM_SAMPLE_ROWS rows does not.
        percent = 100.0 * RANDOM_SAMPLE_ROWS / estimate
        row = _fetch(select(sql.SQL("TABLESAMPLE SYSTEM ({})").format(sql.Literal(percent)))
                     + sql.SQL("ORDER BY random() LIMIT 1"), {})
        if row is not None:
            return row
    return _fetch(select() + sql.SQL("ORDER BY random() LIMIT 1"), {})


def preview(*, workspace, channel: str, content: dict[str, Any], entity_key: str = "", key: Any = None) -> Preview:
    """The content rendered for one real record (by key, or at random). Raises
    PreviewError when there is no such record or the template breaks on its data."""
    problems = template_problems(workspace=workspace, channel=channel, content=content, entity_key=entity_key)
    if problems:
        raise PreviewError("; ".join(str(p) for p in problems), "content")
    try:
        resolved = content_mod.resolve(workspace, channel, {"content": content})
    except TemplateProblem as exc:
        raise PreviewError(str(exc), exc.field) from exc
    entity, record_key, context = preview_context(workspace=workspace, entity_key=entity_key, key=key)
    try:
        fields = Renderer(channel, resolved).render(context)
    except Exception as exc:  # this record's data breaks the template: say how
        raise PreviewError(f"the template fails for {entity} {record_key}: {type(exc).__name__}: {exc}",
                           "content") from exc
    for plain in ("css", "page_size", "return_address", "from_email", "reply_to"):
        if plain in resolved and plain not in fields:
            fields[plain] = str(resolved[plain] or "")
    return Preview(entity=entity, key=record_key, fields=fields, content=resolved, context=context)


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


# Why a message failed, stopped or waits, in words (the exclusion reasons are the ledger's).
OUTCOME_REASONS = {
    "bounced": "bounced (the address does not accept mail)",
    "no_provider": "no provider set up for this channel",
    "rejected": "rejected by the provider",
    "render_error": "the content failed for this recipient's data",
    "retries_exhausted": "the provider kept failing: gave up after the retries",
    "retry": "the provider failed: trying again",
    "stopped": "the delivery was stopped",
    "window_ended": "not sent before the delivery's end",
    "error": "an error",
    "unknown": "unknown",
}


def reason_label(reason: str) -> str:
    """A reason code in words; an unknown code is at least spaced ("some_code" -> "some code")."""
    return ledger.REASONS.get(reason) or OUTCOME_REASONS.get(reason) or reason.replace("_", " ")


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


def deliveries_in_trouble_by_workspace(workspace_ids: list[int]) -> dict[int, int]:
    """Per workspace: deliveries still sending whose provider is out (paused with backoff)."""
    return dict(Delivery.objects.filter(workspace_id__in=workspace_ids, outage_since__isnull=False,
                                        finished_at__isnull=True)
                .values_list("workspace_id").annotate(n=Count("*")).order_by())
