"""Proofs of SMS and push content (services.proof_send hands them here): an SMS to test
phone numbers, a push to every active device of chosen profiles; personalized with one
real record, marked [PROOF], counted against the same proof budget as proof emails
(one per message), and sent by the channel's configured provider."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from psycopg import sql

from apps.core.sqlutil import render
from apps.datamodel.schema import Schema

from . import content as content_mod
from . import ledger, phones
from .models import ChannelConfig, Delivery, PushSubscription
from .proof_limits import proof_allow

MAX_PHONES, MAX_PROFILES = 20, 5
MARK = "[PROOF] "


def proof_phones(workspace, addresses: list[str]) -> list[str]:
    """The test numbers in E.164 (the workspace's default region for national ones), or a
    ValidationError naming the numbers that are not valid."""
    if not addresses or len(addresses) > MAX_PHONES:
        raise ValidationError({"addresses": f"give 1 to {MAX_PHONES} test phone numbers"})
    region = ledger.default_region(workspace) or None
    numbers, bad = [], []
    for raw in addresses:
        number, reason = phones.normalize(raw, region)
        if reason:
            bad.append(f"{raw[:40]} ({phones.REASONS[reason]})")
        elif number not in numbers:
            numbers.append(number)
    if bad:
        raise ValidationError({"addresses": f"not a phone number: {', '.join(bad)}"})
    return numbers


def marked(channel: str, content: dict[str, Any]) -> dict[str, Any]:
    """The content with [PROOF] in front of what the recipient reads first."""
    content = dict(content)
    if channel == "sms":
        content["text"] = MARK + str(content.get("text") or "")
    else:
        content["title"] = MARK + str(content.get("title") or "")
        overrides = content.get("overrides")
        if isinstance(overrides, dict):
            content["overrides"] = {p: ({**o, "title": MARK + o["title"]} if isinstance(o, dict) and o.get("title")
                                        else o) for p, o in overrides.items()}
    return content


def proof_send(*, workspace, actor, channel: str, content: dict[str, Any], addresses: list[str],
               entity_key: str = "", key: Any = None) -> Delivery:
    """SMS: `addresses` are phone numbers. Push: `addresses` are profile keys, whose active
    devices get it; with no record key, a profile-dimension template is personalized for
    the first of them."""
    from .services import _create_with_params, _profile_join, delivery_options  # noqa: PLC0415

    addresses = [a.strip() for a in addresses if a and a.strip()]
    schema = Schema.load(workspace)
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    target = schema.entities.get(entity_key) if entity_key else profile
    if target is None or profile is None:
        raise ValidationError("the data model has no profile dimension")
    if channel == "sms":
        _sms_configured(workspace)
        params: dict[str, Any] = {"addresses": proof_phones(workspace, addresses)}
        recipients = sql.SQL("CROSS JOIN unnest(%(addresses)s::text[]) AS a(address)")
        address, owner = sql.SQL("a.address"), None
    else:
        if not addresses or len(addresses) > MAX_PROFILES:
            raise ValidationError({"addresses": f"give 1 to {MAX_PROFILES} profile keys: their devices get it"})
        params = {"addresses": addresses, "ws": workspace.pk}
        recipients = sql.SQL("CROSS JOIN {subs} s").format(subs=sql.Identifier(PushSubscription._meta.db_table))
        address, owner = sql.SQL("s.id::text"), sql.SQL("s.profile_key")
        if key in (None, "") and target == profile:
            key = addresses[0]
    audience = ledger.audience_for(workspace, schema, channel, target, {})
    content = marked(channel, content_mod.resolve(workspace, channel, {"content": content}))
    problems = content_mod.problems(channel, content, content_mod.model_names(schema, target, profile))
    if problems:
        raise ValidationError({"content": [str(p) for p in problems]})
    classified = _classified(schema, target, profile, audience, recipients, address, owner, key,
                             _profile_join(audience, schema))
    params["key"] = key
    options = delivery_options(audience, {"track_opens": False, "track_clicks": False}, None, [], {})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(render(sql.SQL("SELECT count(*) FROM ({}) x").format(classified)),
                           {**params, "ws": workspace.pk})
            count = cursor.fetchone()[0]
        if not count:
            _nothing(channel, target, key)
        proof_allow(workspace=workspace, actor=actor, count=count)
        return _create_with_params(workspace=workspace, channel=channel, content=content, options=options,
                                   classified=classified, params=params, actor=actor)


def _classified(schema, target, profile, audience, recipients, address, owner, key, profile_join):
    from apps.datamodel import ddl  # noqa: PLC0415

    pk = ddl.column(schema.pk(target))
    where = sql.SQL("WHERE {} = %(key)s").format(pk) if key not in (None, "") else sql.SQL("")
    record_profile = sql.SQL("p.{}").format(ddl.column(schema.pk(profile))) if audience.path else sql.SQL("r.key")
    devices = sql.SQL("") if owner is None else sql.SQL(
        "WHERE s.workspace_id = %(ws)s AND s.active AND s.profile_key = ANY(%(addresses)s::text[])")
    return sql.SQL(
        "SELECT r.key AS target_key, {profile_key} AS profile_key, {address} AS address, NULL::text AS reason, "
        "NULL::timestamptz AS defer_until FROM (SELECT {pk} AS key FROM {t} {where} ORDER BY {pk} LIMIT 1) r "
        "{profile_join} {recipients} {devices}").format(
        profile_key=owner or record_profile, address=address, pk=pk, t=ddl.table(target), where=where,
        profile_join=profile_join, recipients=recipients, devices=devices)


def _sms_configured(workspace) -> None:
    if not ChannelConfig.objects.filter(workspace=workspace, channel="sms", backend__in=("twilio", "vonage")).exists():
        raise ValidationError("no SMS provider is configured: choose Twilio or Vonage in the SMS settings first")


def _nothing(channel: str, target, key) -> None:
    if channel == "push":
        raise ValidationError({"addresses": "none of these profiles has an active push device"
                                            + (f" (or there is no {target.key} with key {key!r})" if key else "")})
    raise ValidationError({"key": f"no {target.key} with key {key!r}" if key else "no record to use"})
