"""Writes of the messages layer: deliveries from channel activities, proof sends, stop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.core.sqlutil import render
from apps.datamodel.schema import Schema

from . import content as content_mod
from . import ledger, sending
from .models import (
    ChannelConfig,
    ChannelKind,
    ContentTemplate,
    Delivery,
    DeliveryStatus,
    Message,
    MessageEvent,
    SmsReceipt,
)
from .proof_limits import proof_allow
from .senders import sender_problem

MESSAGE = sql.Identifier(Message._meta.db_table)
# Keys of a message event's data that identify a person (tracking hits and ESP reports).
EVENT_PERSONAL_KEYS = ["ip", "user_agent", "recipient", "description", "mta_response"]


def _window(workspace, channel: str) -> dt.timedelta:
    config = ChannelConfig.objects.filter(workspace=workspace, channel=channel).first()
    return dt.timedelta(hours=(config.window_hours if config else 12) or 12)


def delivery_options(audience: ledger.Audience, settings: dict[str, Any], table: str | None,
                     enrichment: list[str], variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile": audience.profile.key, "target": audience.target.key, "per_row": audience.per_row,
        "profile_link": ".".join(r.key for r in audience.path), "table": table, "enrichment": enrichment,
        "track_opens": bool(settings.get("track_opens", True)), "track_clicks": bool(settings.get("track_clicks", _clicks_default(audience.channel, settings))),
        "category": settings.get("category") or "marketing", "topic": settings.get("topic") or "",
        "rule_set_id": settings.get("rule_set_id") or None,
        "language_attr": audience.mappings["language"].key if "language" in audience.mappings else "",
        "timezone_attr": audience.mappings["timezone"].key if "timezone" in audience.mappings else "",
        "variables": variables or {},
    }


def _clicks_default(channel: str, settings: dict[str, Any]) -> bool:
    """Email tracks clicks unless told not to; SMS and push (whose links become short
    tracking links) by default for marketing messages only."""
    return channel not in ("sms", "push") or (settings.get("category") or "marketing") == "marketing"


def _held(workspace, campaign) -> bool:
    """Whether a new delivery starts paused: its campaign is paused or its workspace
    archived. The campaign row is share-locked until the delivery commits, so a pause
    in between waits for it and then finds the delivery to hold."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT archived_at IS NOT NULL FROM tenants_workspace WHERE id = %s", [workspace.pk])
        if cursor.fetchone()[0]:
            return True
        if campaign is None:
            return False
        cursor.execute("SELECT status FROM campaigns_campaign WHERE id = %s FOR SHARE", [campaign.pk])
        row = cursor.fetchone()
    return row is not None and row[0] == "paused"


def delivery_create(*, workspace, channel: str, name: str, content: dict[str, Any], options: dict[str, Any],
                    classified: sql.Composable, run=None, node_id: str = "", campaign=None, actor=None,
                    proof: bool = False) -> Delivery:
    """The delivery and its message rows, in one INSERT ... SELECT from `classified`
    (SELECT target_key, profile_key, address, reason). Call inside a transaction; the
    sending tasks start when it commits."""
    held = _held(workspace, campaign)
    if channel == ChannelKind.SMS and "price_per_segment" not in options:
        # The price the texts are sent at: the report's cost stays what it was when the
        # workspace's price changes later.
        config = ChannelConfig.objects.filter(workspace=workspace, channel=channel).only("options").first()
        options = {**options, "price_per_segment": ((config.options or {}) if config else {}).get("price_per_segment")}
    delivery = Delivery.objects.create(
        workspace=workspace, channel=channel, name=name[:300], content=content, options=options, run=run,
        node_id=node_id, campaign=campaign, created_by=actor if getattr(actor, "pk", None) else None, proof=proof,
        expires_at=timezone.now() + _window(workspace, channel),
        # Made while its campaign is paused (or its workspace archived): held until resumed.
        status=DeliveryStatus.PAUSED if held else DeliveryStatus.SENDING)
    query = sql.SQL(
        "WITH ins AS (INSERT INTO {msg} (workspace_id, delivery_id, profile_key, target_key, address, status, "
        "reason, attempts, provider_id, error, next_attempt_at) SELECT %(ws)s, %(d)s, c.profile_key::text, "
        "c.target_key::text, coalesce(c.address, ''), CASE WHEN c.reason IS NOT NULL THEN 'excluded' "
        "WHEN c.defer_until IS NOT NULL THEN 'deferred' ELSE 'queued' END, "
        "CASE WHEN c.reason IS NULL AND c.defer_until IS NOT NULL THEN 'quiet_hours' ELSE coalesce(c.reason, '') END, "
        "0, '', '', CASE WHEN c.reason IS NULL THEN c.defer_until END "
        "FROM ({classified}) c {order} RETURNING status, reason) "
        "SELECT status, reason, count(*) FROM ins GROUP BY status, reason").format(
        msg=MESSAGE, classified=classified,
        # Letters are printed in message order: in postal-code order they stack for the
        # postage discount (the address is "line 1 | postal code | city").
        order=sql.SQL("ORDER BY split_part(c.address, ' | ', 2), c.address, c.target_key") if channel == "direct_mail"
        else sql.SQL(""))
    with connection.cursor() as cursor:
        cursor.execute(render(query), {"ws": workspace.pk, "d": delivery.pk})
        rows = cursor.fetchall()
    excluded = {reason: n for status, reason, n in rows if status == "excluded"}
    deferred = {reason: n for status, reason, n in rows if status == "deferred"}
    queued = sum(n for status, _reason, n in rows if status == "queued")
    delivery.counts = {"queued": queued, "excluded": excluded, **({"deferred": deferred} if deferred else {})}
    delivery.total = sum(n for _s, _r, n in rows)
    delivery.save(update_fields=["counts", "total"])
    # A held delivery (its campaign paused, its workspace archived) waits for delivery_resume.
    if not held and (queued or deferred):
        sending.dispatch(delivery)
    elif not held:
        sending.finish_if_done(delivery)
    return delivery


def template_save(*, workspace, actor, name: str, channel: str, content: dict[str, Any], entity_key: str = "",
                  template: ContentTemplate | None = None) -> ContentTemplate:
    """Create or update a template; rejected with every problem (field, line, reason)."""
    schema = Schema.load(workspace)
    target = schema.entities.get(entity_key) if entity_key else None
    if entity_key and target is None:
        raise ValidationError({"entity_key": f"no entity {entity_key!r} in this workspace"})
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    names = content_mod.model_names(schema, target or profile, profile)
    problems = content_mod.problems(channel, content, names, require=False)
    if problems:
        raise ValidationError({"content": [str(p) for p in problems]})
    if template is None:
        template = ContentTemplate(workspace=workspace, created_by=actor if getattr(actor, "pk", None) else None)
    template.name, template.channel, template.content, template.entity_key = name, channel, content, entity_key
    template.save()
    return template


def delivery_stop(*, workspace, delivery: Delivery) -> int:
    """Cancel the delivery's queued and deferred messages (reason "stopped"); returns how many."""
    if delivery.workspace_id != workspace.pk:
        raise ValidationError("no such delivery")
    return sending.delivery_stop(delivery=delivery)


def delivery_pause(*, workspace, delivery: Delivery) -> int:
    """Hold a sending delivery: no task claims its messages until it is resumed (a chunk
    being sent finishes). Returns how many messages are held (queued or deferred)."""
    if delivery.workspace_id != workspace.pk:
        raise ValidationError("no such delivery")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PAUSED, heartbeat_at=None)
        return Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).count()


def delivery_resume(*, workspace, delivery: Delivery) -> int:
    """Release a paused delivery: its sending tasks start again (after commit). Returns
    how many messages were released."""
    if delivery.workspace_id != workspace.pk:
        raise ValidationError("no such delivery")
    with transaction.atomic():
        if not Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PAUSED).update(
                status=DeliveryStatus.SENDING):
            return 0
        released = Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).count()
        delivery.status = DeliveryStatus.SENDING
        sending.dispatch(delivery)
    return released


def proof_send(*, workspace, actor, channel: str, content: dict[str, Any], addresses: list[str],
               entity_key: str = "", key: Any = None) -> Delivery:
    """Send the content to test addresses, marked [PROOF], personalized with one real
    record (by key, or the first one). ProofRateLimited beyond the person's or the
    workspace's budget of proof emails."""
    from apps.datamodel import ddl  # noqa: PLC0415

    if channel in ("sms", "push"):
        from . import proofs  # noqa: PLC0415

        return proofs.proof_send(workspace=workspace, actor=actor, channel=channel, content=content,
                                 addresses=addresses, entity_key=entity_key, key=key)
    if channel != "email":
        raise ValidationError("proofs of direct mail are not sent: preview the letter instead")
    addresses = [a.strip() for a in addresses if a and a.strip()]
    if not addresses or len(addresses) > 20:
        raise ValidationError({"addresses": "give 1 to 20 test addresses"})
    import re  # noqa: PLC0415

    bad = [a for a in addresses if not re.match(ledger.EMAIL_SHAPE, a)]
    if bad:
        raise ValidationError({"addresses": f"not an email address: {', '.join(bad)}"})
    schema = Schema.load(workspace)
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    target = schema.entities.get(entity_key) if entity_key else profile
    if target is None or profile is None:
        raise ValidationError("the data model has no profile dimension")
    audience = ledger.audience_for(workspace, schema, channel, target, {})
    content = content_mod.resolve(workspace, channel, {"content": content})
    content["subject"] = "[PROOF] " + str(content.get("subject") or "")
    problems = content_mod.problems(channel, content, content_mod.model_names(schema, target, profile))
    if problems:
        raise ValidationError({"content": [str(p) for p in problems]})
    refused = sender_problem(workspace=workspace, from_email=content.get("from_email") or "")
    if refused:
        raise ValidationError({"from_email": refused})
    pk = ddl.column(schema.pk(target))
    where = sql.SQL("WHERE {} = %(key)s").format(pk) if key not in (None, "") else sql.SQL("")
    # Every proof goes to each test address, personalized with the chosen record.
    classified = sql.SQL(
        "SELECT r.key AS target_key, {profile_key} AS profile_key, a.address, NULL::text AS reason, "
        "NULL::timestamptz AS defer_until "
        "FROM (SELECT {pk} AS key FROM {t} {where} ORDER BY {pk} LIMIT 1) r "
        "CROSS JOIN unnest(%(addresses)s::text[]) AS a(address) {profile_join}").format(
        pk=pk, t=ddl.table(target), where=where,
        profile_key=sql.SQL("p.{}").format(ddl.column(schema.pk(profile))) if audience.path else sql.SQL("r.key"),
        profile_join=_profile_join(audience, schema))
    options = delivery_options(audience, {"track_opens": False, "track_clicks": False}, None, [], {})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(render(sql.SQL("SELECT count(*) FROM ({}) x").format(classified)),
                           {"key": key, "addresses": addresses})
            if not cursor.fetchone()[0]:
                raise ValidationError({"key": f"no {target.key} with key {key!r}" if key else "no record to use"})
        proof_allow(workspace=workspace, actor=actor, count=len(addresses))
        delivery = _create_with_params(workspace=workspace, channel=channel, content=content, options=options,
                                       classified=classified, params={"key": key, "addresses": addresses},
                                       actor=actor)
    return delivery


def _profile_join(audience: ledger.Audience, schema: Schema) -> sql.Composable:
    from apps.datamodel import ddl  # noqa: PLC0415

    if not audience.path:
        return sql.SQL("")
    joins = []
    target_pk = ddl.column(schema.pk(audience.target))
    joins.append(sql.SQL("JOIN {t} t0 ON t0.{pk} = r.key").format(t=ddl.table(audience.target), pk=target_pk))
    src_alias = "t0"
    for i, rel in enumerate(audience.path):
        alias = f"l{i + 1}" if i + 1 < len(audience.path) else "p"
        joins.append(sql.SQL("JOIN {t} {a} ON {a}.{pk} = {s}.{fk}").format(
            t=ddl.table(rel.target), a=sql.Identifier(alias), pk=ddl.column(schema.pk(rel.target)),
            s=sql.Identifier(src_alias), fk=ddl.column(rel.attribute)))
        src_alias = alias
    return sql.SQL(" ").join(joins)


def _create_with_params(*, workspace, channel, content, options, classified, params, actor) -> Delivery:
    headline = content.get("subject") or content.get("title") or content.get("text") or ""
    delivery = Delivery.objects.create(
        workspace=workspace, channel=channel, name=f"Proof: {headline}"[:300], content=content,
        options=options, proof=True, created_by=actor if getattr(actor, "pk", None) else None,
        expires_at=timezone.now() + _window(workspace, channel))
    query = sql.SQL(
        "INSERT INTO {msg} (workspace_id, delivery_id, profile_key, target_key, address, status, reason, attempts, "
        "provider_id, error) SELECT %(ws)s, %(d)s, c.profile_key::text, c.target_key::text, c.address, 'queued', "
        "'', 0, '', '' FROM ({classified}) c").format(msg=MESSAGE, classified=classified)
    with connection.cursor() as cursor:
        cursor.execute(render(query), {**params, "ws": workspace.pk, "d": delivery.pk})
        delivery.total = cursor.rowcount
    delivery.counts = {"queued": delivery.total, "excluded": {}}
    delivery.save(update_fields=["counts", "total"])
    sending.dispatch(delivery)
    return delivery


# --- erasure ----------------------------------------------------------------------------------

def messages_anonymize(*, workspace, message_ids: Sequence[int], pseudonym: str) -> tuple[int, int]:
    """Keep the workspace's messages `message_ids` for the delivery counts but unlink them
    from their recipient: no address, no error text (bounce replies quote the address),
    profile and target keys replaced by `pseudonym`; their events lose the data that
    identifies a person (EVENT_PERSONAL_KEYS). Returns (messages anonymized, events cleared)."""
    ids = list(message_ids)
    if not ids:
        return 0, 0
    with transaction.atomic(savepoint=False):  # the caller's transaction, when there is one
        with connection.cursor() as cursor:
            cursor.execute(render(sql.SQL(
                "UPDATE {} SET data = data - %s::text[] WHERE message_id = ANY(%s) AND workspace_id = %s "
                "AND data ?| %s::text[]").format(sql.Identifier(MessageEvent._meta.db_table))),
                [EVENT_PERSONAL_KEYS, ids, workspace.pk, EVENT_PERSONAL_KEYS])
            cleared = cursor.rowcount
        anonymized = Message.objects.filter(workspace_id=workspace.pk, pk__in=ids).update(
            address="", error="", profile_key=pseudonym, target_key=pseudonym)
        SmsReceipt.objects.filter(workspace_id=workspace.pk, message_id__in=ids).update(recipient="")
    return anonymized, cleared
