"""Data subject requests: export everything kept about one profile, or erase it.

What belongs to a profile: its row in the profile entity, the rows of every entity that
links to it (incoming relationships) and of every entity that links to those (one more
level: a review -> booking -> customer), its consent state and ledger, its messages and
their events. Rows of the profile entity itself reached through a link (a customer who
referred this one) are other people and are left out.

Erasure, in one transaction:
- the linked rows are deleted deepest level first, then the profile row (no database
  foreign keys join workspace tables, but the order also holds if a workspace adds some);
- its messages are kept for the delivery counts but anonymized: no address, no error
  text (bounce replies quote the address), and profile and target keys replaced by a
  stable pseudonym; their events lose IP, user agent, recipient and bounce texts;
- its consent ledger is kept (the record that a yes or no was given, when and how, is
  what an auditor asks for) but unlinked: the events' profile key becomes the same
  pseudonym and their IP and free-text proof are cleared. The current-state rows are
  deleted, so a profile imported again under the same key starts from the topics'
  default policy (opt-in: nothing without a new yes);
- its email addresses and phone numbers (read through the address mapping, and from its
  past messages) become hashed suppression entries (reason "erased"), replacing any plain
  entry of the same address, so it is not messaged again even when re-imported;
- its push devices (FCM/APNs tokens, Web Push endpoints and keys) are deleted: a token
  identifies a device and is of no use once the profile is gone (the export lists them).

The pseudonym is an HMAC of the workspace and the key under the server's secret: stable
(erasing twice, or the export and erase audit entries of one person, agree) but not
recomputable from a key by whoever reads the database. The audit log names only it."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from psycopg import sql

from apps.channels.devices import push_subscription_list
from apps.channels.models import PushSubscription
from apps.channels.selectors import message_events, profile_messages
from apps.channels.services import messages_anonymize
from apps.core.sqlutil import fetchone
from apps.datamodel import ddl
from apps.datamodel.locks import entity_write_lock
from apps.datamodel.models import AddressMapping, Attribute, Entity, Relationship
from apps.datamodel.schema import Schema
from apps.datamodel.selectors import parse_value
from apps.datamodel.services import records_delete
from apps.tenants.services import audit_record

from .models import (
    ConsentEvent,
    ConsentState,
    SoftBounce,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from .services import hashed_value, suppression_add

if TYPE_CHECKING:
    from apps.channels.models import Message

PSEUDONYM_PREFIX = "erased:"
# The address as the messages ledger stores it (apps/channels/ledger.py), so the hash of a
# suppression matches the hash enforcement computes.
ADDRESS_SQL = {
    SuppressionKind.EMAIL: "lower(btrim({}))",
    SuppressionKind.PHONE: "regexp_replace({}, '[^0-9+]', '', 'g')",
}
CHANNEL_KINDS = {"email": SuppressionKind.EMAIL, "sms": SuppressionKind.PHONE}


@dataclass
class LinkPath:
    """Rows of `entity` that belong to the profile: `steps[0]` links `entity` to the
    level above, the last step reaches the profile."""

    entity: Entity
    steps: list[Relationship]

    @property
    def label(self) -> str:
        return " -> ".join(f"{rel.source.key}.{rel.key}" for rel in self.steps)


@dataclass
class Subject:
    """One profile, resolved: its key as text (as messages and consents store it) and typed."""

    workspace: Any
    schema: Schema | None
    profile: Entity | None
    key: str
    value: Any
    paths: list[LinkPath] = field(default_factory=list)

    @property
    def pseudonym(self) -> str:
        return pseudonym_for(self.workspace, self.key)


def pseudonym_for(workspace, key: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{workspace.pk}:{key}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]


def _link_paths(schema: Schema, profile: Entity) -> list[LinkPath]:
    paths = []
    for first in sorted(schema.incoming[profile.pk].values(), key=lambda r: r.pk):
        if first.source.is_profile:
            continue
        paths.append(LinkPath(first.source, [first]))
        for second in sorted(schema.incoming[first.source_id].values(), key=lambda r: r.pk):
            if second.source.is_profile or second.source_id == first.source_id:
                continue  # other people, or the same table's own links (a booking's parent booking)
            paths.append(LinkPath(second.source, [second, first]))
    return paths


def _owned(path: LinkPath, schema: Schema) -> sql.Composable:
    """WHERE condition over alias t for the rows of `path.entity` that are the profile's;
    one bound parameter (the profile's key)."""
    # Innermost first: the level that points at the profile, then each level below it
    # selects its parents' keys (aliases p1, p2... keep every column qualified).
    depth = len(path.steps)
    alias = sql.Identifier(f"p{depth - 1}") if depth > 1 else sql.Identifier("t")
    condition = sql.SQL("{}.{} = %s").format(alias, ddl.column(path.steps[-1].attribute))
    for level in range(depth - 2, -1, -1):
        rel = path.steps[level]
        parent_alias = sql.Identifier(f"p{level + 1}")
        alias = sql.Identifier(f"p{level}") if level else sql.Identifier("t")
        condition = sql.SQL("{a}.{col} IN (SELECT {pa}.{pk} FROM {table} {pa} WHERE {cond})").format(
            a=alias, col=ddl.column(rel.attribute), pa=parent_alias, pk=ddl.column(schema.pk(rel.target)),
            table=ddl.table(rel.target), cond=condition)
    return condition


def access_subject(workspace, key: str) -> Subject:
    """The profile `key` of `workspace`; 404 when nothing is kept about it (no row, no
    consent event, no message, no push device): the same answer for a key of another workspace."""
    schema = Schema.load(workspace)
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    key = (key or "").strip()
    if not key:
        raise Http404("Not found.")
    value: Any = key
    if profile is not None:
        pk = schema.pk(profile)
        try:
            value = parse_value(pk, key)
        except ValidationError:
            raise Http404("Not found.") from None
        # The key as PostgreSQL writes it, which is how messages and consents store it.
        key = fetchone(sql.SQL("SELECT (%s::{})::text").format(ddl.sql_type(pk.type)), [value])[0]
    subject = Subject(workspace=workspace, schema=schema, profile=profile, key=key, value=value,
                      paths=_link_paths(schema, profile) if profile is not None else [])
    if not (_profile_row(subject) is not None
            or ConsentEvent.objects.filter(workspace=workspace, profile_key=key).exists()
            or _messages(subject).exists()
            or push_subscription_list(workspace=workspace, profile_key=key).exists()):
        raise Http404("Not found.")
    return subject


def _messages(subject: Subject):
    return profile_messages(workspace=subject.workspace, profile_key=subject.key)


def _profile_row(subject: Subject) -> dict[str, Any] | None:
    if subject.profile is None:
        return None
    row = fetchone(sql.SQL("SELECT to_jsonb(t)::text FROM {} t WHERE {} = %s").format(
        ddl.table(subject.profile), ddl.column(subject.schema.pk(subject.profile))), [subject.value])
    return json.loads(row[0]) if row else None


def _path_rows(subject: Subject, path: LinkPath) -> list[dict[str, Any]]:
    """One set-based statement per entity and path: the rows as JSON, in key order."""
    pk = subject.schema.pk(path.entity)
    row = fetchone(sql.SQL("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.{pk}), '[]'::jsonb)::text "
                           "FROM {table} t WHERE {owned}").format(
        pk=ddl.column(pk), table=ddl.table(path.entity), owned=_owned(path, subject.schema)), [subject.value])
    return json.loads(row[0])


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def profile_data(subject: Subject) -> dict[str, Any]:
    """Everything kept about the profile, as JSON-ready data (a read: audited by the
    export service, not here)."""
    workspace = subject.workspace
    related = [{"entity": path.entity.key, "via": path.label, "rows": _path_rows(subject, path)}
               for path in subject.paths]
    states = ConsentState.objects.filter(workspace=workspace, profile_key=subject.key).select_related("topic")
    events = ConsentEvent.objects.filter(workspace=workspace, profile_key=subject.key).select_related("topic")
    messages = list(_messages(subject).select_related("delivery").order_by("id"))
    events_of_messages = message_events(workspace=workspace, message_ids=[m.pk for m in messages])
    addresses = _addresses(subject, messages)
    suppressions = Suppression.objects.filter(workspace=workspace, hashed=False).filter(
        kind__in=[kind for kind, _ in addresses], value__in=[value for _, value in addresses])
    return {
        "workspace": workspace.slug,
        "exported_at": timezone.now().isoformat(),
        "profile_entity": subject.profile.key if subject.profile else None,
        "profile_key": subject.key,
        "profile": _profile_row(subject),
        "related": related,
        "consent": {
            "state": [{"topic": s.topic.key, "channel": s.topic.channel, "granted": s.granted, "at": _iso(s.at)}
                      for s in states.order_by("topic__channel", "topic__key")],
            "events": [{"topic": e.topic.key, "channel": e.channel, "granted": e.granted, "source": e.source,
                        "at": _iso(e.at), "recorded_at": _iso(e.recorded_at), "by": e.actor_label,
                        "ip_address": e.ip_address, "reference": e.reference, "proof": e.proof}
                       for e in events.order_by("at", "id")],
        },
        "messages": [{"id": m.pk, "delivery": m.delivery.name, "channel": m.delivery.channel,
                      "status": m.status, "reason": m.reason, "sent_at": _iso(m.sent_at), "address": m.address,
                      "target_key": m.target_key} for m in messages],
        "message_events": [{"message": e.message_id, "type": e.type, "at": _iso(e.at), "data": e.data}
                           for e in events_of_messages],
        "push_devices": [{"platform": d.platform, "token": d.token, "app_id": d.app_id,
                          "created_at": _iso(d.created_at), "last_seen_at": _iso(d.last_seen_at),
                          "active": d.active, "deactivated_at": _iso(d.deactivated_at),
                          "deactivated_reason": d.deactivated_reason}
                         for d in push_subscription_list(workspace=workspace, profile_key=subject.key)],
        "suppressions": [{"kind": s.kind, "value": s.value, "reason": s.reason, "created_at": _iso(s.created_at),
                          "expires_at": _iso(s.expires_at)} for s in suppressions.order_by("kind", "value")],
    }


def counts_of(data: dict[str, Any]) -> dict[str, Any]:
    """How much an export holds, without any of it (what the audit log and the page show)."""
    rows: dict[str, int] = {}
    for part in data["related"]:
        rows[part["entity"]] = rows.get(part["entity"], 0) + len(part["rows"])
    return {"profile_row": data["profile"] is not None, "related_rows": rows,
            "consent_states": len(data["consent"]["state"]), "consent_events": len(data["consent"]["events"]),
            "messages": len(data["messages"]), "message_events": len(data["message_events"]),
            "push_devices": len(data["push_devices"])}


def profile_export(*, workspace, actor: Any, subject: Subject, ip_address: str | None = None) -> dict[str, Any]:
    """Everything about one profile, and an audit entry saying it left (counts only)."""
    data = profile_data(subject)
    audit_record(workspace=workspace, actor=actor, verb="dsr.exported", target=subject.profile,
                 data={"subject": subject.pseudonym, **counts_of(data)}, ip_address=ip_address)
    return data


def _address_columns(subject: Subject) -> list[tuple[str, Attribute]]:
    if subject.profile is None:
        return []
    roles = {"email": SuppressionKind.EMAIL, "phone": SuppressionKind.PHONE}
    mappings = AddressMapping.objects.filter(workspace=subject.workspace, role__in=roles,
                                             attribute__entity=subject.profile).select_related("attribute")
    return [(roles[m.role], m.attribute) for m in mappings]


def _addresses(subject: Subject, messages: list[Message]) -> set[tuple[str, str]]:
    """(kind, normalized address) of the profile: its mapped email and phone columns and
    the addresses its email and SMS messages went to."""
    found: set[tuple[str, str]] = set()
    columns = _address_columns(subject)
    if columns:
        select = sql.SQL(", ").join(sql.SQL(ADDRESS_SQL[kind]).format(ddl.column(attr)) for kind, attr in columns)
        row = fetchone(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
            select, ddl.table(subject.profile), ddl.column(subject.schema.pk(subject.profile))), [subject.value])
        for (kind, _), value in zip(columns, row or (), strict=False):
            if value:
                found.add((kind, value))
    for message in messages:
        kind = CHANNEL_KINDS.get(message.delivery.channel)
        if kind and message.address:
            found.add((kind, message.address))
    return found


@dataclass
class Erasure:
    pseudonym: str
    rows: dict[str, int]
    messages: int
    message_events: int
    consent_events: int
    suppressions: int
    push_devices: int

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.pseudonym, "deleted_rows": self.rows, "messages_anonymized": self.messages,
                "message_events_cleared": self.message_events, "consent_events_unlinked": self.consent_events,
                "suppressions_added": self.suppressions,
                "push_devices_deleted": self.push_devices}


def profile_erase(*, workspace, actor: Any, subject: Subject, confirm: str,
                  ip_address: str | None = None) -> Erasure:
    """Erase one profile (see the module docstring for what that means), in one
    transaction, audited with counts and the pseudonym only. `confirm` must repeat the key."""
    if (confirm or "").strip() != subject.key:
        raise ValidationError({"confirm": f"Type the profile key {subject.key!r} to confirm the erasure."})
    pseudonym = subject.pseudonym
    with transaction.atomic():
        # Ingestion and record deletes take the same per-entity lock: no row of the
        # profile is merged in while it is being erased. All of them first, in entity
        # order: no deadlock (records_delete takes each again, which it already holds).
        entities = {p.entity.pk: p.entity for p in subject.paths}
        if subject.profile is not None:
            entities[subject.profile.pk] = subject.profile
        for entity_id in sorted(entities):
            entity_write_lock(entities[entity_id])
        messages = list(_messages(subject).select_related("delivery"))
        addresses = _addresses(subject, messages)

        rows: dict[str, int] = {}
        for path in sorted(subject.paths, key=lambda p: -len(p.steps)):  # children first
            deleted = records_delete(workspace=workspace, entity=path.entity, where=_owned(path, subject.schema),
                                     params=[subject.value])
            rows[path.entity.key] = rows.get(path.entity.key, 0) + deleted
        if subject.profile is not None:
            rows[subject.profile.key] = records_delete(
                workspace=workspace, entity=subject.profile,
                where=sql.SQL("t.{} = %s").format(ddl.column(subject.schema.pk(subject.profile))),
                params=[subject.value])

        anonymized, cleared = messages_anonymize(workspace=workspace, message_ids=[m.pk for m in messages],
                                                 pseudonym=pseudonym)

        ConsentState.objects.filter(workspace=workspace, profile_key=subject.key).delete()
        unlinked = ConsentEvent.objects.filter(workspace=workspace, profile_key=subject.key).update(
            profile_key=pseudonym, ip_address=None, proof="")

        for kind, address in sorted(addresses):
            plain = Suppression.objects.filter(workspace=workspace, kind=kind, value=address, hashed=False)
            was = list(plain.values_list("reason", flat=True))
            plain.delete()
            suppression_add(workspace=workspace, kind=kind, value=hashed_value(address),
                            reason=SuppressionReason.ERASED, actor=actor, hashed=True,
                            note=f"erased profile; was suppressed: {', '.join(was)}" if was else "erased profile")
        SoftBounce.objects.filter(workspace=workspace,
                                  address__in=[a for k, a in addresses if k == SuppressionKind.EMAIL]).delete()

        _, deleted = push_subscription_list(workspace=workspace, profile_key=subject.key).delete()
        devices = deleted.get(PushSubscription._meta.label, 0)

        result = Erasure(pseudonym=pseudonym, rows=rows, messages=anonymized, message_events=cleared,
                         consent_events=unlinked, suppressions=len(addresses), push_devices=devices)
        audit_record(workspace=workspace, actor=actor, verb="dsr.erased", target=subject.profile,
                     data=result.as_dict(), ip_address=ip_address)
    return result


def export_response(workspace, actor, subject: Subject, ip_address: str | None) -> HttpResponse:
    """The export as a JSON attachment (the API and the page download the same file)."""
    data = profile_export(workspace=workspace, actor=actor, subject=subject, ip_address=ip_address)
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False, default=str),
                            content_type="application/json; charset=utf-8")
    safe_key = "".join(c if c.isalnum() or c in "-_." else "_" for c in subject.key)[:80]
    response["Content-Disposition"] = f'attachment; filename="profile-{workspace.slug}-{safe_key}.json"'
    response["Cache-Control"] = "no-store"
    return response
