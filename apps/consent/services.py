"""Writes of consent and suppression. Every consent change is a ledger event and the
current state moves with it in the same transaction; nothing rewrites history."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.tenants.services import audit_record

from .models import (
    ConsentEvent,
    ConsentState,
    SoftBounce,
    Source,
    Suppression,
    SuppressionKind,
    SuppressionReason,
    Topic,
    WorkspacePolicy,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def policy_for(workspace) -> WorkspacePolicy:
    policy, _ = WorkspacePolicy.objects.get_or_create(workspace=workspace)
    return policy


def fold_case(value: str) -> str:
    """Lower-case as PostgreSQL's lower() does: the messages ledger stores addresses as
    lower(btrim(...)) in SQL, and Python's str.lower() differs from it beyond ASCII
    ('İ', final sigma), so a suppression folded in Python could miss the address it names."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower(%s)", [value])
        return cursor.fetchone()[0]


def normalize(kind: str, value: str) -> str:
    value = (value or "").strip()
    if kind == SuppressionKind.EMAIL:
        value = fold_case(value)
        if not EMAIL.match(value):
            raise ValidationError(f"{value!r} is not an email address")
    elif kind == SuppressionKind.DOMAIN:
        value = fold_case(value).lstrip("@")
        if not re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", value):
            raise ValidationError(f"{value!r} is not a domain")
    elif kind == SuppressionKind.PHONE:
        value = re.sub(r"[^0-9+]", "", value)
        if not re.match(r"^\+?[0-9]{6,15}$", value):
            raise ValidationError(f"{value!r} is not a phone number")
    else:
        raise ValidationError(f"unknown suppression kind {kind!r}")
    return value


def consent_record(*, workspace, profile_key: Any, topic: Topic, granted: bool, source: str, actor: Any = None,
                   at: dt.datetime | None = None, ip_address: str | None = None, reference: str = "",
                   proof: str = "", audit: bool = True) -> ConsentEvent:
    """One consent event, and the current state moved to it when it is the newest."""
    if topic.workspace_id != workspace.pk:
        raise ValidationError("no such topic")
    if source not in Source.values:
        raise ValidationError(f"unknown source {source!r}")
    at = at or timezone.now()
    user = actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            workspace=workspace, profile_key=str(profile_key), topic=topic, channel=topic.channel, granted=granted,
            source=source, actor=user, actor_label=str(actor or source)[:200], at=at, ip_address=ip_address,
            reference=reference[:300], proof=proof)
        # Newest answer wins; an imported older event does not override a later one.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ConsentState._meta.db_table} (workspace_id, topic_id, profile_key, granted, at, event_id) "
                f"VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (topic_id, profile_key) DO UPDATE SET "
                f"granted = EXCLUDED.granted, at = EXCLUDED.at, event_id = EXCLUDED.event_id "
                f"WHERE {ConsentState._meta.db_table}.at <= EXCLUDED.at",
                [workspace.pk, topic.pk, str(profile_key), granted, at, event.pk])
        if audit:
            audit_record(workspace=workspace, actor=actor, verb="consent.granted" if granted else "consent.withdrawn",
                         target=None, data={"profile_key": str(profile_key), "topic": topic.key,
                                            "channel": topic.channel, "source": source})
    return event


def consent_state(*, workspace, profile_key: Any, topic: Topic) -> bool:
    """Whether a message on this topic may go to this profile now."""
    state = ConsentState.objects.filter(topic=topic, profile_key=str(profile_key)).first()
    if state is None:
        return topic.policy == "opt_out"
    return state.granted


def suppression_add(*, workspace, kind: str, value: str, reason: str, actor: Any = None, note: str = "",
                    expires_at: dt.datetime | None = None, hashed: bool = False) -> Suppression:
    if reason not in SuppressionReason.values:
        raise ValidationError(f"unknown reason {reason!r}")
    value = value if hashed else normalize(kind, value)
    with transaction.atomic():
        suppression, created = Suppression.objects.update_or_create(
            workspace=workspace, kind=kind, value=value,
            defaults={"reason": reason, "note": note, "expires_at": expires_at, "hashed": hashed,
                      "created_by": actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None})
        audit_record(workspace=workspace, actor=actor, verb="suppression.added" if created else "suppression.updated",
                     target=suppression, data={"kind": kind, "reason": reason})
    return suppression


def suppression_remove(*, workspace, suppression: Suppression, actor: Any = None) -> None:
    if suppression.workspace_id != workspace.pk:
        raise ValidationError("no such suppression")
    with transaction.atomic():
        audit_record(workspace=workspace, actor=actor, verb="suppression.removed", target=suppression,
                     data={"kind": suppression.kind, "reason": suppression.reason})
        suppression.delete()


def hashed_value(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def bounce_record(*, workspace, address: str, hard: bool, complaint: bool = False,
                  kind: str = SuppressionKind.EMAIL) -> Suppression | None:
    """Bounces and complaints feed the suppression list: hard bounces and complaints at
    once, soft bounces when they reach the workspace threshold. `kind` "phone": an SMS
    number a provider's receipt says is unknown, a landline or unreachable for good."""
    try:
        address = normalize(kind, address)
    except ValidationError:
        return None
    if complaint or hard:
        reason = SuppressionReason.COMPLAINT if complaint else SuppressionReason.HARD_BOUNCE
        return suppression_add(workspace=workspace, kind=kind, value=address, reason=reason,
                               actor="provider webhook")
    threshold = policy_for(workspace).soft_bounce_threshold
    with transaction.atomic():
        counter, _ = SoftBounce.objects.select_for_update().get_or_create(workspace=workspace, address=address)
        counter.count += 1
        counter.save(update_fields=["count", "last_at"])
    if counter.count >= threshold:
        return suppression_add(workspace=workspace, kind=kind, value=address,
                               reason=SuppressionReason.SOFT_BOUNCES, actor="provider webhook",
                               note=f"{counter.count} soft bounces")
    return None
