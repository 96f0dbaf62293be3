"""From a channel activity's input working table to message rows, in SQL.

One classification SELECT decides, for every input row, the recipient (the profile,
reached through a link when the input is another entity: one email per booking), the
address, and the first reason it must not get the message:

    no_profile, no_address, invalid_address, <the consent layer's reasons>, duplicate_address

Test runs only count the reasons. Live runs insert the delivery's messages with one
INSERT ... SELECT (queued, or excluded with the reason) and keep the recipients' keys
as the activity's output. The send policy (apps/channels/policy.py, implemented by the
consent layer) adds its reasons: [(reason, SQL condition)] over the aliases `w`
(working row), `p` (profile row) and the column `address`, evaluated in the same
statement. Without a registered policy nothing is classified (NoSendPolicy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from apps.datamodel import ddl
from apps.datamodel.models import AddressMapping, Entity, Relationship
from apps.datamodel.schema import Schema

from . import policy

# What each channel needs from the profile (address roles of the data model).
ADDRESS_ROLES = {
    "email": ["email"],
    "sms": ["phone"],
    "push": [],  # push: the profile's devices in the registry (_push_devices)
    "direct_mail": ["address_line1", "postal_code", "city"],
}
# (no raw percent sign: the pattern is inlined into SQL that may run with parameters).
# PostgreSQL's regex engine turns bounded repeats like {0,61} into large automata
# (27 us a row here, 27 s at a million), so label rules are checked separately.
EMAIL_SHAPE = r"^[A-Za-z0-9.!#$\x25&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}$"
EMAIL_BAD_LABEL = r"@-|[.]-|-[.]|-$|[.][.]|^[.]|[.]@"

REASONS = {
    "no_profile": "no recipient (the row has no linked profile)",
    "no_address": "no address",
    "invalid_address": "invalid address",
    "invalid_phone": "not a valid phone number",
    "no_region": "a national phone number and no country (profile or workspace default)",
    "duplicate_address": "duplicate address in this delivery",
    "no_consent": "no consent",
    "withdrawn": "consent withdrawn",
    "suppressed": "suppressed address",
    "suppressed_domain": "suppressed domain",
    "frequency_cap": "frequency cap",
    "quiet_hours": "quiet hours (deferred)",
}


@dataclass
class Audience:
    """Who a channel activity addresses, resolved against the model."""

    workspace: Any
    channel: str
    target: Entity
    profile: Entity
    path: list[Relationship]  # links from the target to the profile (empty: the target is the profile)
    settings: dict[str, Any]
    schema: Schema
    mappings: dict[str, Any] = field(default_factory=dict)  # role -> Attribute
    # Set by classify_sql for the hooks: the recipient's key and address as SQL over `p`.
    profile_key_sql: Any = None
    address_sql: Any = None

    @property
    def per_row(self) -> bool:
        return bool(self.path)


class AudienceError(Exception):
    pass


def profile_path(schema: Schema, target: Entity, link: str | None) -> list[Relationship]:
    """The links from `target` to the profile dimension: the one named in settings
    (`profile_link`, dotted), or the only shortest many-to-one path of at most 3 links."""
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    if profile is None:
        raise AudienceError("the data model has no profile dimension (mark the entity messages go to).")
    if target.pk == profile.pk:
        return []
    if link:
        current, path = target, []
        for name in link.split("."):
            rel = schema.outgoing[current.pk].get(name)
            if rel is None:
                raise AudienceError(f"{current.key} has no link {name!r}.")
            path.append(rel)
            current = rel.target
        if current.pk != profile.pk:
            raise AudienceError(f"the link {link!r} leads to {current.key}, not to the profile ({profile.key}).")
        return path
    frontier: list[tuple[Entity, list[Relationship]]] = [(target, [])]
    for _depth in range(3):
        found, nxt = [], []
        for entity, path in frontier:
            for rel in schema.outgoing[entity.pk].values():
                if rel.target.pk == profile.pk:
                    found.append(path + [rel])
                elif rel.target.pk not in {r.source_id for r in path} and rel.target.pk != target.pk:
                    nxt.append((rel.target, path + [rel]))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = " or ".join(".".join(r.key for r in p) for p in found)
            raise AudienceError(f"{target.key} reaches {profile.key} in several ways ({names}): choose one "
                                "as the profile link.")
        frontier = nxt
    raise AudienceError(f"{target.key} has no link to the profile dimension ({profile.key}): add a Change "
                        "dimension before this activity.")


def audience_for(workspace, schema: Schema, channel: str, target: Entity, settings: dict[str, Any]) -> Audience:
    path = profile_path(schema, target, settings.get("profile_link") or None)
    profile = path[-1].target if path else target
    mappings = {m.role: m.attribute for m in AddressMapping.objects.filter(workspace=workspace).select_related(
        "attribute")}
    return Audience(workspace=workspace, channel=channel, target=target, profile=profile, path=path,
                    settings=settings, schema=schema, mappings=mappings)


def _address(audience: Audience) -> tuple[sql.Composable, sql.Composable, sql.Composable] | None:
    """(address expression, empty condition, invalid condition) over alias p; None when
    the model has no address for this channel."""
    roles = ADDRESS_ROLES[audience.channel]
    if not roles or any(r not in audience.mappings for r in roles):
        return None
    cols = [sql.SQL("p.{}").format(ddl.column(audience.mappings[r])) for r in roles]
    empty = sql.SQL(" OR ").join(sql.SQL("coalesce(btrim({}::text), '') = ''").format(c) for c in cols)
    if audience.channel == "email":
        address = sql.SQL("lower(btrim({}))").format(cols[0])
        # label rules as LIKE tests: a second regex costs as much as the first
        invalid = sql.SQL(
            "NOT (btrim({c}) ~ {shape}) OR btrim({c}) LIKE ANY (ARRAY['%%@-%%', '%%.-%%', '%%-.%%', '%%-', "
            "'%%..%%', '.%%', '%%.@%%']) OR length(btrim({c})) > 254").format(
            c=cols[0], shape=sql.Literal(EMAIL_SHAPE))
    elif audience.channel == "sms":
        # E.164 from the phone table classify_into fills (phonenumbers over distinct values)
        address = sql.SQL("ph.e164")
        invalid = sql.SQL("false")
    else:
        address = sql.SQL("concat_ws(' | ', {})").format(
            sql.SQL(", ").join(sql.SQL("btrim({}::text)").format(c) for c in cols))
        invalid = sql.SQL("false")
    return address, empty, invalid


def _push_devices(audience: Audience, profile_key: sql.Composable,
                  joins: list[sql.Composable]) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """A push message's address is the device: the id of an active PushSubscription of the
    profile. One message per device (push_devices "all", the default: a profile with
    three devices makes three rows), or to the profile's newest device only ("newest")."""
    ws = sql.Literal(audience.workspace.pk)
    if audience.settings.get("push_devices") == "newest":
        joins.append(sql.SQL(
            "LEFT JOIN LATERAL (SELECT s.id FROM channels_pushsubscription s WHERE s.workspace_id = {ws} AND s.active "
            "AND s.profile_key = {key}::text ORDER BY s.last_seen_at DESC, s.id DESC LIMIT 1) ps ON true").format(
            ws=ws, key=profile_key))
    else:
        joins.append(sql.SQL(
            "LEFT JOIN channels_pushsubscription ps ON ps.workspace_id = {ws} AND ps.active "
            "AND ps.profile_key = {key}::text").format(ws=ws, key=profile_key))
    return sql.SQL("ps.id::text"), sql.SQL("ps.id IS NULL"), sql.SQL("false")


def classify_sql(audience: Audience, work: sql.Identifier,
                 phones_only: tuple[sql.Composable, sql.Composable] | None = None) -> sql.Composable:
    """SELECT target_key, profile_key, address, reason (NULL: send), defer_until for
    every row of the working table `work` (duplicates are classify_into's second step)."""
    schema = audience.schema
    joins = []
    alias = "w"
    key_expr = sql.SQL("w.key")
    for i, rel in enumerate(audience.path):
        src = sql.Identifier(alias)
        if i == 0:
            # the target row itself holds the first link's column
            joins.append(sql.SQL("LEFT JOIN {t} t0 ON t0.{pk} = w.key").format(
                t=ddl.table(audience.target), pk=ddl.column(schema.pk(audience.target))))
            src = sql.Identifier("t0")
        nxt = f"l{i + 1}" if i + 1 < len(audience.path) else "p"
        joins.append(sql.SQL("LEFT JOIN {t} {a} ON {a}.{pk} = {src}.{fk}").format(
            t=ddl.table(rel.target), a=sql.Identifier(nxt), pk=ddl.column(schema.pk(rel.target)), src=src,
            fk=ddl.column(rel.attribute)))
        alias = nxt
    if not audience.path:
        joins.append(sql.SQL("LEFT JOIN {t} p ON p.{pk} = w.key").format(
            t=ddl.table(audience.profile), pk=ddl.column(schema.pk(audience.profile))))
    profile_key = sql.SQL("p.{}").format(ddl.column(schema.pk(audience.profile)))
    if phones_only is not None:
        raw, region = phones_only
        return sql.SQL("SELECT DISTINCT {raw}, {region} FROM {work} w {joins} WHERE {raw} <> ''").format(
            raw=raw, region=region, work=work, joins=sql.SQL(" ").join(joins))
    parts = _push_devices(audience, profile_key, joins) if audience.channel == "push" else _address(audience)
    phone_reason = None
    if audience.channel == "sms" and parts is not None:
        raw, region = _phone_parts(audience)
        joins.append(sql.SQL("LEFT JOIN pg_temp.{m} ph ON ph.raw = {raw} AND ph.region = {region}").format(
            m=sql.Identifier(PHONE_MAP), raw=raw, region=region))
        phone_reason = sql.SQL("WHEN ph.reason IS NOT NULL THEN ph.reason")
    cases = [sql.SQL("WHEN {} IS NULL THEN 'no_profile'").format(profile_key)]
    if parts is None:
        address = sql.SQL("NULL::text")
        cases.append(sql.SQL("WHEN true THEN 'no_address'"))
    else:
        address, empty, invalid = parts
        cases.append(sql.SQL("WHEN {} THEN 'no_address'").format(empty))
        cases.append(sql.SQL("WHEN {} THEN 'invalid_address'").format(invalid))
        if phone_reason is not None:
            cases.append(phone_reason)
    audience.profile_key_sql, audience.address_sql = profile_key, address
    send_policy = policy.current()
    for reason, condition in send_policy.exclusions(audience):
        cases.append(sql.SQL("WHEN {} THEN {}").format(condition, sql.Literal(reason)))
    # quiet hours: a recipient who may get the message later gets it deferred
    defer = send_policy.deferral(audience) or sql.SQL("NULL::timestamptz")
    inner = sql.SQL("SELECT {key} AS target_key, {profile_key} AS profile_key, {address} AS address, "
                    "CASE {cases} END AS reason, {defer} AS defer_until FROM {work} w {joins}").format(
        key=key_expr, profile_key=profile_key, address=address, cases=sql.SQL(" ").join(cases), defer=defer,
        work=work, joins=sql.SQL(" ").join(joins))
    return inner


PHONE_MAP = "_sms_phone_map"
PHONE_BATCH = 10_000  # distinct numbers normalized and written per statement: bounded memory, few round trips


def _phone_parts(audience: Audience) -> tuple[sql.Composable, sql.Composable]:
    """The raw phone and the recipient's region (profile country, else '') as SQL over p."""
    phone = sql.SQL("btrim(p.{}::text)").format(ddl.column(audience.mappings["phone"]))
    country = audience.mappings.get("country")
    region = sql.SQL("coalesce(upper(btrim(p.{}::text)), '')").format(ddl.column(country)) if country is not None \
        else sql.SQL("''")
    return phone, region


def default_region(workspace) -> str:
    from .models import ChannelConfig  # noqa: PLC0415

    config = ChannelConfig.objects.filter(workspace=workspace, channel="sms").only("options").first()
    return str((config.options or {}).get("default_region") or "") if config else ""


def map_phones(audience: Audience, work: sql.Identifier, execute: Callable[..., Any]) -> None:
    """Fill the session's phone table: each distinct (number, region) of the audience once,
    normalized to E.164 by phonenumbers (a region the profile names, else the workspace's
    default), or with the reason it cannot be (invalid_phone, no_region)."""
    from django.db import connection  # noqa: PLC0415

    from apps.core.sqlutil import render as render_sql  # noqa: PLC0415

    from . import phones  # noqa: PLC0415

    execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(PHONE_MAP)))
    execute(sql.SQL("CREATE TEMP TABLE {} (raw text, region text, e164 text, reason text, "
                    "PRIMARY KEY (raw, region))").format(sql.Identifier(PHONE_MAP)))
    raw, region = _phone_parts(audience)
    # the same joins as the classification, without its CASE: only the numbers this audience reaches
    select = classify_sql(audience, work, phones_only=(raw, region))
    fallback = default_region(audience.workspace)

    with connection.cursor() as cursor:
        cursor.execute(render_sql(select))
        while True:
            rows = cursor.fetchmany(PHONE_BATCH)
            if not rows:
                break
            mapped = phones.normalize_many((r, g or fallback) for r, g in rows)
            raws, regions, numbers, reasons = [], [], [], []
            for r, g in rows:
                number, reason = mapped[(r, g or fallback)]
                raws.append(r), regions.append(g), numbers.append(number or None), reasons.append(reason or None)
            execute(sql.SQL("INSERT INTO pg_temp.{} SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], "
                            "%s::text[])").format(sql.Identifier(PHONE_MAP)), [raws, regions, numbers, reasons])
    execute(sql.SQL("ANALYZE pg_temp.{}").format(sql.Identifier(PHONE_MAP)))


def classify_into(audience: Audience, work: sql.Identifier, scratch: sql.Identifier,
                  execute: Callable[[sql.Composable], Any]) -> None:
    """Classify the working table into the UNLOGGED table `scratch` (target_key,
    profile_key, address, reason, defer_until), in two set-based steps: every row at once
    (a CREATE TABLE AS, which PostgreSQL runs with parallel workers), then one message
    per address: of the rows still in that share an address, all but the first (by
    key) become duplicate_address, found with a hash aggregate instead of sorting every
    row. In one-message-per-row deliveries an address may get several messages."""
    execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
    if audience.channel == "sms" and _address(audience) is not None:
        map_phones(audience, work, execute)
    # The planner prices a regex like an equality and so never thinks handing a million
    # rows through a Gather is worth it; the address checks are what costs, so let the
    # classification run in parallel workers (inside the caller's transaction only).
    execute(sql.SQL("SET LOCAL parallel_tuple_cost = 0.001"))
    execute(sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(scratch, classify_sql(audience, work)))
    execute(sql.SQL("SET LOCAL parallel_tuple_cost TO DEFAULT"))
    if not audience.per_row:
        execute(sql.SQL(
            "UPDATE {s} c SET reason = 'duplicate_address' FROM (SELECT address, min(target_key) AS first FROM {s} "
            "WHERE reason IS NULL GROUP BY address HAVING count(*) > 1) d "
            "WHERE c.reason IS NULL AND c.address = d.address AND c.target_key <> d.first").format(s=scratch))
    execute(sql.SQL("ANALYZE {}").format(scratch))
