"""Writes of the workspace's consent configuration: topics, rule sets with their frequency
caps, quiet hours and the workspace policy. Each change is audited (the audit log records
consent, suppression and rule changes); each raises ValidationError with field messages
on bad input, so the API and the screens answer alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.tenants.services import audit_record

from .models import (
    CHANNELS,
    FrequencyCap,
    Period,
    Policy,
    QuietHours,
    RuleSet,
    Topic,
    WorkspacePolicy,
)
from .services import policy_for

CHANNEL_KEYS = [c for c, _ in CHANNELS]
SOFT_BOUNCE_RANGE = (1, 20)
UNSUBSCRIBE_DAYS_RANGE = (1, 3650)


def _check_channel(channel: str, field: str = "channel", blank: bool = False) -> None:
    if (blank and channel == "") or channel in CHANNEL_KEYS:
        return
    raise ValidationError({field: f"one of {', '.join(CHANNEL_KEYS)}"})


# --- topics ---

def topic_create(*, workspace, actor: Any, key: str, name: str, channel: str, policy: str = Policy.OPT_IN,
                 description: str = "") -> Topic:
    """A new subscription topic. Its key and channel never change afterwards: activities
    name it by key and its ledger events carry the channel."""
    _check_channel(channel)
    topic = Topic(workspace=workspace, key=key, name=name, channel=channel, policy=policy, description=description)
    topic.full_clean(exclude=["workspace"], validate_unique=False)
    if Topic.objects.filter(workspace=workspace, channel=channel, key=key).exists():
        raise ValidationError({"key": f"there is already a {channel} topic {key!r}"})
    with transaction.atomic():
        topic.save()
        audit_record(workspace=workspace, actor=actor, verb="consent.topic.created", target=topic,
                     data={"key": key, "channel": channel, "policy": policy})
    return topic


def topic_update(*, workspace, actor: Any, topic: Topic, name: str | None = None, policy: str | None = None,
                 description: str | None = None) -> Topic:
    if topic.workspace_id != workspace.pk:
        raise ValidationError("no such topic")
    before = {"name": topic.name, "policy": topic.policy, "description": topic.description}
    if name is not None:
        topic.name = name
    if policy is not None:
        topic.policy = policy
    if description is not None:
        topic.description = description
    topic.full_clean(exclude=["workspace"], validate_unique=False)
    after = {"name": topic.name, "policy": topic.policy, "description": topic.description}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        with transaction.atomic():
            topic.save(update_fields=["name", "policy", "description"])
            audit_record(workspace=workspace, actor=actor, verb="consent.topic.updated", target=topic,
                         data={"key": topic.key, "channel": topic.channel, "changed": changed})
    return topic


def topic_delete(*, workspace, actor: Any, topic: Topic) -> None:
    """Only a topic nobody has answered yet: the ledger is never rewritten."""
    if topic.workspace_id != workspace.pk:
        raise ValidationError("no such topic")
    if topic.events.exists():
        raise ValidationError(f"{topic.name} has consent history; a topic with a ledger cannot be deleted.")
    with transaction.atomic():
        audit_record(workspace=workspace, actor=actor, verb="consent.topic.deleted", target=topic,
                     data={"key": topic.key, "channel": topic.channel})
        topic.delete()


# --- rule sets and frequency caps ---

def _clean_caps(caps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned, errors = [], []
    for index, cap in enumerate(caps):
        channel = cap.get("channel") or ""
        limit = cap.get("limit")
        period = cap.get("period")
        problems = []
        if channel not in [""] + CHANNEL_KEYS:
            problems.append(f"channel: one of {', '.join(CHANNEL_KEYS)} or empty (all channels)")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            problems.append("limit: a whole number of at least 1")
        if period not in Period.values:
            problems.append(f"period: one of {', '.join(Period.values)}")
        if problems:
            errors.append(f"cap {index + 1}: " + "; ".join(problems))
        cleaned.append({"channel": channel, "limit": limit, "period": period})
    if errors:
        raise ValidationError({"caps": errors})
    return cleaned


def _caps_data(rule_set: RuleSet) -> list[dict[str, Any]]:
    return [{"channel": c.channel, "limit": c.limit, "period": c.period} for c in rule_set.caps.order_by("id")]


def rule_set_create(*, workspace, actor: Any, name: str, caps: list[dict[str, Any]] | None = None) -> RuleSet:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a rule set needs a name"})
    caps = _clean_caps(caps or [])
    if RuleSet.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError({"name": f"there is already a rule set named {name!r}"})
    with transaction.atomic():
        rule_set = RuleSet.objects.create(workspace=workspace, name=name)
        FrequencyCap.objects.bulk_create([FrequencyCap(workspace=workspace, rule_set=rule_set, **c) for c in caps])
        audit_record(workspace=workspace, actor=actor, verb="consent.ruleset.created", target=rule_set,
                     data={"name": name, "caps": caps})
    return rule_set


def rule_set_update(*, workspace, actor: Any, rule_set: RuleSet, name: str | None = None,
                    caps: list[dict[str, Any]] | None = None) -> RuleSet:
    """Renames and/or replaces the caps (None keeps them)."""
    if rule_set.workspace_id != workspace.pk:
        raise ValidationError("no such rule set")
    before = {"name": rule_set.name, "caps": _caps_data(rule_set)}
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": "a rule set needs a name"})
        if RuleSet.objects.filter(workspace=workspace, name=name).exclude(pk=rule_set.pk).exists():
            raise ValidationError({"name": f"there is already a rule set named {name!r}"})
        rule_set.name = name
    cleaned = _clean_caps(caps) if caps is not None else None
    with transaction.atomic():
        rule_set.save(update_fields=["name"])
        if cleaned is not None:
            rule_set.caps.all().delete()
            FrequencyCap.objects.bulk_create([FrequencyCap(workspace=workspace, rule_set=rule_set, **c)
                                              for c in cleaned])
        after = {"name": rule_set.name, "caps": _caps_data(rule_set)}
        if after != before:
            audit_record(workspace=workspace, actor=actor, verb="consent.ruleset.updated", target=rule_set,
                         data={"before": before, "after": after})
    return rule_set


def rule_set_delete(*, workspace, actor: Any, rule_set: RuleSet) -> None:
    if rule_set.workspace_id != workspace.pk:
        raise ValidationError("no such rule set")
    with transaction.atomic():
        audit_record(workspace=workspace, actor=actor, verb="consent.ruleset.deleted", target=rule_set,
                     data={"name": rule_set.name, "caps": _caps_data(rule_set)})
        rule_set.delete()


def cap_add(*, workspace, actor: Any, rule_set: RuleSet, channel: str, limit: int, period: str) -> FrequencyCap:
    if rule_set.workspace_id != workspace.pk:
        raise ValidationError("no such rule set")
    (cap,) = _clean_caps([{"channel": channel, "limit": limit, "period": period}])
    with transaction.atomic():
        created = FrequencyCap.objects.create(workspace=workspace, rule_set=rule_set, **cap)
        audit_record(workspace=workspace, actor=actor, verb="consent.cap.added", target=rule_set,
                     data={"rule_set": rule_set.name, **cap})
    return created


def cap_remove(*, workspace, actor: Any, cap: FrequencyCap) -> None:
    if cap.workspace_id != workspace.pk:
        raise ValidationError("no such cap")
    with transaction.atomic():
        audit_record(workspace=workspace, actor=actor, verb="consent.cap.removed", target=cap.rule_set,
                     data={"rule_set": cap.rule_set.name, "channel": cap.channel, "limit": cap.limit,
                           "period": cap.period})
        cap.delete()


# --- quiet hours ---

def quiet_hours_set(*, workspace, actor: Any, hours: dict[str, tuple[dt.time, dt.time] | None]) -> None:
    """Sets the allowed window of each channel named (None: no quiet hours); channels not
    named keep theirs. A window may cross midnight (from 22:00 until 06:00)."""
    for channel, window in hours.items():
        _check_channel(channel, field=channel)
        if window is not None and window[0] == window[1]:
            raise ValidationError({channel: "the window is empty: 'from' and 'until' are the same time"})
    changed = {}
    with transaction.atomic():
        current = {q.channel: q for q in QuietHours.objects.select_for_update().filter(workspace=workspace)}
        for channel, window in hours.items():
            existing = current.get(channel)
            old = [existing.allowed_from.isoformat("minutes"), existing.allowed_until.isoformat("minutes")] \
                if existing else None
            if window is None:
                if existing is not None:
                    existing.delete()
                    changed[channel] = [old, None]
                continue
            new = [window[0].isoformat("minutes"), window[1].isoformat("minutes")]
            if new == old:
                continue
            QuietHours.objects.update_or_create(workspace=workspace, channel=channel,
                                                defaults={"allowed_from": window[0], "allowed_until": window[1]})
            changed[channel] = [old, new]
        if changed:
            audit_record(workspace=workspace, actor=actor, verb="consent.quiet_hours.updated", target=None,
                         data={"changed": changed})


# --- the workspace policy ---

def policy_update(*, workspace, actor: Any, four_eyes: bool | None = None, soft_bounce_threshold: int | None = None,
                  unsubscribe_link_days: int | None = None) -> WorkspacePolicy:
    errors = {}
    low, high = SOFT_BOUNCE_RANGE
    if soft_bounce_threshold is not None and not low <= soft_bounce_threshold <= high:
        errors["soft_bounce_threshold"] = f"between {low} and {high}"
    low, high = UNSUBSCRIBE_DAYS_RANGE
    if unsubscribe_link_days is not None and not low <= unsubscribe_link_days <= high:
        errors["unsubscribe_link_days"] = f"between {low} and {high}"
    if errors:
        raise ValidationError(errors)
    policy = policy_for(workspace)
    # The four-eyes rule is a setting of the workspace (campaigns reads it there); the
    # page and the API edit it with the policy's values, in one audit entry as before.
    values = {"four_eyes": four_eyes, "soft_bounce_threshold": soft_bounce_threshold,
              "unsubscribe_link_days": unsubscribe_link_days}
    owner = {"four_eyes": workspace, "soft_bounce_threshold": policy, "unsubscribe_link_days": policy}
    changed = {k: [getattr(owner[k], k), v] for k, v in values.items() if v is not None and getattr(owner[k], k) != v}
    if changed:
        for k, (_, v) in changed.items():
            setattr(owner[k], k, v)
        try:
            with transaction.atomic():
                for obj in (workspace, policy):
                    fields = [k for k in changed if owner[k] is obj]
                    if fields:
                        obj.save(update_fields=fields)
                audit_record(workspace=workspace, actor=actor, verb="consent.policy.updated", target=None,
                             data={"changed": changed})
        except IntegrityError as exc:  # pragma: no cover - the ranges above keep the columns valid
            raise ValidationError(str(exc)) from None
    return policy


# --- the inbound SMS URL ---

def inbound_sms_secret_rotate(*, workspace, actor: Any, grace_minutes: int = 0) -> WorkspacePolicy:
    """Give the workspace's inbound SMS URL a new secret. The replaced URL is refused at
    once, or `grace_minutes` from now (at most a day) while the provider is updated; any
    older URL is refused at once. Audited, without the secret."""
    from django.utils import timezone  # noqa: PLC0415

    from .inbound import INBOUND_SMS_GRACE_MAX_MINUTES  # noqa: PLC0415

    if isinstance(grace_minutes, bool) or not isinstance(grace_minutes, int) or not (
            0 <= grace_minutes <= INBOUND_SMS_GRACE_MAX_MINUTES):
        raise ValidationError({"grace_minutes": f"a whole number of minutes from 0 to {INBOUND_SMS_GRACE_MAX_MINUTES}"})
    with transaction.atomic():
        policy_for(workspace)  # exists before it is locked
        policy = WorkspacePolicy.objects.select_for_update().get(workspace=workspace)
        if grace_minutes:
            policy.inbound_sms_previous_generation = policy.inbound_sms_generation
            policy.inbound_sms_previous_valid_until = timezone.now() + dt.timedelta(minutes=grace_minutes)
        else:
            policy.inbound_sms_previous_generation = None
            policy.inbound_sms_previous_valid_until = None
        policy.inbound_sms_generation += 1
        policy.save(update_fields=["inbound_sms_generation", "inbound_sms_previous_generation",
                                   "inbound_sms_previous_valid_until"])
        audit_record(workspace=workspace, actor=actor, verb="consent.inbound_sms.rotated", target=None,
                     data={"grace_minutes": grace_minutes})
    return policy
