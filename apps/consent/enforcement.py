"""Consent, suppression, frequency caps and quiet hours, enforced twice:

1. when a delivery's messages are created: each rule is a condition in the same
   classification statement (apps/channels/ledger.py), so every excluded recipient is
   kept with its reason code, and quiet hours defer rather than drop;
2. just before each chunk leaves (SendPolicy.check_before_send, in the transaction that
   claims the chunk): consent and suppression are read again, and a message that would
   land in quiet hours is deferred to the next allowed time; caps are counted again
   from the messages sent or being sent (`sending`) under a transaction-scoped advisory
   lock on each of the chunk's profiles, so two chunks of two deliveries sent at the
   same moment cannot both pass for one profile.

ConsentPolicy implements apps/channels/policy.py's SendPolicy; ConsentConfig.ready()
registers it.

A channel activity's settings choose: `category` ("marketing", the default, or
"transactional": no topics nor caps, but suppression always), `topic` (a topic key of
the activity's channel) and `rule_set_id` (frequency caps).

Reason codes: suppressed, suppressed_domain, withdrawn, no_consent, frequency_cap;
deferral: quiet_hours. Every set test below is an uncorrelated IN (SELECT ...), which
PostgreSQL runs once as a hashed subplan: a hash lookup per recipient."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg import sql

from apps.channels.policy import SendPolicy, Verdict
from apps.channels.selectors import cap_ledger_sql, message_table
from apps.core.sqlutil import render

from .models import ConsentState, FrequencyCap, QuietHours, RuleSet, Suppression, Topic

STATE = sql.Identifier(ConsentState._meta.db_table)
SUPPRESSION = sql.Identifier(Suppression._meta.db_table)
PERIODS = {"day": "1 day", "week": "7 days", "month": "30 days"}
PHONE_CHANNELS = ("sms",)
# "Now" for quiet hours, as SQL: tests pin it to a literal instant to cross a DST change.
CLOCK = "now()"
# Advisory lock namespaces (the first key of the two-key form, which never meets the
# one-key form other code uses): a workspace's capped deliveries are created one at a
# time; a profile's capped messages are checked one chunk at a time.
CAP_CREATE_LOCK = 0x63617063  # "capc"
CAP_SEND_LOCK = 0x63617073  # "caps"


class ConsentSettingsError(Exception):
    pass


def topic_for(workspace, channel: str, settings: dict[str, Any]) -> Topic | None:
    """The activity's topic; a marketing activity on a channel that has topics must name one."""
    if settings.get("category") == "transactional":
        return None
    key = settings.get("topic")
    if key:
        topic = Topic.objects.filter(workspace=workspace, channel=channel, key=key).first()
        if topic is None:
            raise ConsentSettingsError(f"no {channel} topic {key!r} in this workspace")
        return topic
    if Topic.objects.filter(workspace=workspace, channel=channel).exists():
        names = ", ".join(Topic.objects.filter(workspace=workspace, channel=channel).values_list("key", flat=True))
        raise ConsentSettingsError(f"a marketing {channel} message needs a subscription topic (one of: {names}), "
                                   "or mark the activity transactional")
    return None


def _suppression_sets(workspace_id: int, channel: str, address: sql.Composable) -> list[tuple[str, sql.Composable]]:
    """Only the lists that have entries become conditions (hashing every address for
    an empty list of erased ones would cost more than all the other checks)."""
    kinds = {"email": ("email", "domain"), "sms": ("phone",)}.get(channel, ())
    present = set(Suppression.objects.filter(workspace_id=workspace_id, kind__in=kinds).values_list(
        "kind", "hashed").distinct())
    live = sql.SQL("(expires_at IS NULL OR expires_at > now())")
    w = sql.Literal(workspace_id)
    plain, hashed = [], []
    for kind in kinds:
        if kind == "domain":
            continue
        if (kind, False) in present:
            plain.append(sql.SQL("{a} IN (SELECT value FROM {t} WHERE workspace_id = {w} AND kind = {k} AND NOT hashed "
                                 "AND {live})").format(a=address, t=SUPPRESSION, w=w, k=sql.Literal(kind), live=live))
        if (kind, True) in present:
            hashed.append(sql.SQL("'sha256:' || encode(sha256(convert_to({a}, 'UTF8')), 'hex') IN (SELECT value FROM "
                                  "{t} WHERE workspace_id = {w} AND kind = {k} AND hashed AND {live})").format(
                a=address, t=SUPPRESSION, w=w, k=sql.Literal(kind), live=live))
    rules = []
    if plain or hashed:
        rules.append(("suppressed", sql.SQL("({})").format(sql.SQL(" OR ").join(plain + hashed))))
    if ("domain", False) in present:
        rules.append(("suppressed_domain", sql.SQL(
            "split_part({a}, '@', 2) IN (SELECT value FROM {t} WHERE workspace_id = {w} AND kind = 'domain' "
            "AND {live})").format(a=address, t=SUPPRESSION, w=w, live=live)))
    return rules


def _consent_sets(topic: Topic | None, key: sql.Composable) -> list[tuple[str, sql.Composable]]:
    if topic is None:
        return []
    rules = [("withdrawn", sql.SQL("{k} IN (SELECT profile_key FROM {s} WHERE topic_id = {t} AND NOT granted)").format(
        k=key, s=STATE, t=sql.Literal(topic.pk)))]
    if topic.policy == "opt_in":
        rules.append(("no_consent", sql.SQL(
            "{k} NOT IN (SELECT profile_key FROM {s} WHERE topic_id = {t} AND granted)").format(
            k=key, s=STATE, t=sql.Literal(topic.pk))))
    return rules


def _caps(workspace_id: int, channel: str, settings: dict[str, Any]) -> list[FrequencyCap]:
    """The caps of the activity's rule set that apply to its channel (none when transactional)."""
    if settings.get("category") == "transactional" or not settings.get("rule_set_id"):
        return []
    return [cap for cap in FrequencyCap.objects.filter(workspace_id=workspace_id, rule_set_id=settings["rule_set_id"])
            if not cap.channel or cap.channel == channel]


def _ledger_sql(workspace_id: int, cap: FrequencyCap, statuses: tuple[str, ...]) -> sql.Composable:
    """FROM ... WHERE over the message ledger (alias m) that a cap counts: messages of
    the workspace's marketing deliveries in the cap's period, in one of `statuses`
    (channels writes the SQL: consent never names the ledger's tables)."""
    return cap_ledger_sql(workspace_id=workspace_id, within=PERIODS[cap.period], channel=cap.channel,
                          statuses=statuses)


def _cap_sets(workspace_id: int, caps: list[FrequencyCap], key: sql.Composable) -> list[tuple[str, sql.Composable]]:
    """At creation: profiles that already reached a cap, counting every message that is
    sent or on its way (queued, deferred, sending)."""
    return [("frequency_cap", sql.SQL("{k} IN (SELECT m.profile_key {ledger} GROUP BY m.profile_key "
                                      "HAVING count(*) >= {limit})").format(
        k=key, ledger=_ledger_sql(workspace_id, cap, ("sent", "queued", "sending", "deferred")),
        limit=sql.Literal(cap.limit))) for cap in caps]


def _serialize_capped_creation(workspace_id: int) -> None:
    """A delivery's classification counts the messages other deliveries have queued,
    but not those of a delivery being created at the same moment and not committed
    yet: capped creations of one workspace wait for each other (a workspace, not a
    channel: a cap may count every channel). Held until the creating transaction
    commits, so the next classification's statement sees its messages."""
    if not connection.in_atomic_block:
        raise RuntimeError("a capped delivery must be classified and created in one transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CAP_CREATE_LOCK, workspace_id])


def _quiet_until(workspace, channel: str, tz_sql: sql.Composable) -> sql.Composable | None:
    """The next allowed time when now is in quiet hours for the recipient, else NULL."""
    rule = QuietHours.objects.filter(workspace=workspace, channel=channel).first()
    if rule is None:
        return None
    start, end = sql.Literal(rule.allowed_from), sql.Literal(rule.allowed_until)
    zone = sql.SQL("(CASE WHEN {tz} IN (SELECT name FROM pg_timezone_names) THEN {tz} ELSE {ws} END)").format(
        tz=tz_sql, ws=sql.Literal(workspace.time_zone or "UTC"))
    local = sql.SQL("(({})::timestamptz AT TIME ZONE {})").format(sql.SQL(CLOCK), zone)
    if rule.allowed_from <= rule.allowed_until:
        allowed = sql.SQL("({l}::time >= {s} AND {l}::time < {e})").format(l=local, s=start, e=end)
        nxt = sql.SQL("CASE WHEN {l}::time < {s} THEN ({l}::date + {s}) ELSE ({l}::date + 1 + {s}) END").format(
            l=local, s=start)
    else:  # a window across midnight, e.g. 20:00-02:00
        allowed = sql.SQL("({l}::time >= {s} OR {l}::time < {e})").format(l=local, s=start, e=end)
        nxt = sql.SQL("({l}::date + {s})").format(l=local, s=start)
    return sql.SQL("(CASE WHEN {allowed} THEN NULL ELSE ({nxt}) AT TIME ZONE {zone} END)").format(
        allowed=allowed, nxt=nxt, zone=zone)


def _tz_sql(attribute_key: str | None, alias: str = "p") -> sql.Composable:
    """The recipient's time zone column as text (NULL: the workspace's zone)."""
    if attribute_key:
        return sql.SQL("{}.{}::text").format(sql.Identifier(alias), sql.Identifier(attribute_key))
    return sql.SQL("NULL::text")


# --- at creation: hooks of apps/channels/ledger.py -------------------------------------------


def settings_problem(workspace, channel: str, settings: dict[str, Any]) -> str | None:
    """A topic the channel lacks, or a marketing message without one; a rule set that is
    not this workspace's (which would otherwise mean no caps at all, silently)."""
    try:
        topic_for(workspace, channel, settings)
    except ConsentSettingsError as exc:
        return str(exc)
    rule_set_id = settings.get("rule_set_id")
    if rule_set_id not in (None, ""):
        try:
            rule_set_id = int(rule_set_id)
        except (TypeError, ValueError):
            return f"rule_set_id: {rule_set_id!r} is not a rule set id"
        if not RuleSet.objects.filter(workspace=workspace, pk=rule_set_id).exists():
            return f"rule_set_id: no frequency-cap rule set {rule_set_id} in this workspace"
    return None


def exclusion_hook(audience) -> list[tuple[str, sql.Composable]]:
    settings = audience.settings or {}
    problem = settings_problem(audience.workspace, audience.channel, settings)
    if problem:
        from apps.channels.ledger import AudienceError  # noqa: PLC0415

        raise AudienceError(problem)
    topic = topic_for(audience.workspace, audience.channel, settings)
    key = sql.SQL("({})::text").format(audience.profile_key_sql)
    rules = []
    if audience.address_sql is not None:
        rules += _suppression_sets(audience.workspace.pk, audience.channel, audience.address_sql)
    rules += _consent_sets(topic, key)
    caps = _caps(audience.workspace.pk, audience.channel, settings)
    if caps:
        _serialize_capped_creation(audience.workspace.pk)
    rules += _cap_sets(audience.workspace.pk, caps, key)
    return rules


def defer_hook(audience) -> sql.Composable | None:
    attribute = audience.mappings.get("timezone")
    return _quiet_until(audience.workspace, audience.channel, _tz_sql(attribute.key if attribute else None))


# --- just before sending: SendPolicy.check_before_send ------------------------------------


def _lock_profiles(workspace_id: int, ids: list[int]) -> None:
    """Transaction-scoped advisory locks on the chunk's profiles, taken in one statement
    in a stable (sorted) order, so two chunks sharing profiles wait for each other
    instead of deadlocking. A separate statement from the count that follows: in READ
    COMMITTED that count takes its snapshot after the locks are granted, so it sees what
    the previous holder committed."""
    query = sql.SQL("SELECT count(pg_advisory_xact_lock(%s, k)) FROM (SELECT DISTINCT hashtext(%s || ':' || "
                    "profile_key) AS k FROM {m} WHERE id = ANY(%s) ORDER BY k) s").format(m=message_table())
    with connection.cursor() as cursor:
        cursor.execute(render(query), [CAP_SEND_LOCK, str(workspace_id), ids])


def _cap_blocks(workspace_id: int, caps: list[FrequencyCap]) -> sql.Composable:
    """Over `c` (the chunk's messages still free to go, with `rank`, their order among
    the chunk's messages of the same profile): true when the message would go over a cap.
    Counted: every other message sent or being sent (`sending`) in the cap's period."""
    conditions = []
    for cap in caps:
        conditions.append(sql.SQL(
            "c.rank + (SELECT count(*) {ledger} AND m.profile_key = c.profile_key AND m.id <> ALL(%(ids)s)) > {limit}"
        ).format(ledger=_ledger_sql(workspace_id, cap, ("sent", "sending")), limit=sql.Literal(cap.limit)))
    return sql.SQL(" OR ").join(conditions)


def presend_hook(delivery, rows: list[dict[str, Any]]) -> dict[int, Verdict]:
    """{message id: reason} for messages that must not leave now; ("defer", until) for
    quiet hours. Three statements per chunk at most: the profile locks (capped
    deliveries only), the check, and the caller's marking of the verdicts."""
    if not rows or delivery.proof:
        return {}
    options = delivery.options or {}
    settings = {"category": options.get("category"), "topic": options.get("topic"),
                "rule_set_id": options.get("rule_set_id")}
    try:
        topic = topic_for(delivery.workspace, delivery.channel, settings)
    except ConsentSettingsError:
        topic = None
    key = sql.SQL("m.profile_key")
    rules = _suppression_sets(delivery.workspace_id, delivery.channel, sql.SQL("m.address"))
    rules += _consent_sets(topic, key)
    caps = _caps(delivery.workspace_id, delivery.channel, settings)
    quiet = None
    joins = sql.SQL("")
    if QuietHours.objects.filter(workspace_id=delivery.workspace_id, channel=delivery.channel).exists():
        from apps.datamodel import ddl  # noqa: PLC0415
        from apps.datamodel.schema import Schema  # noqa: PLC0415

        schema = Schema.load(delivery.workspace)
        profile = schema.entities.get(options.get("profile"))
        if profile is not None and options.get("timezone_attr"):
            pk = schema.pk(profile)
            joins = sql.SQL("LEFT JOIN {t} p ON p.{pk} = m.profile_key::{type}").format(
                t=ddl.table(profile), pk=ddl.column(pk), type=ddl.sql_type(pk.type))
            quiet = _quiet_until(delivery.workspace, delivery.channel, _tz_sql(options["timezone_attr"]))
        else:
            quiet = _quiet_until(delivery.workspace, delivery.channel, sql.SQL("NULL::text"))
    if not rules and quiet is None and not caps:
        return {}
    ids = [r["id"] for r in rows]
    if caps:
        if not connection.in_atomic_block:
            raise RuntimeError("the frequency cap check must run in the transaction that claims the messages")
        _lock_profiles(delivery.workspace_id, ids)
    cases = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(c, sql.Literal(r)) for r, c in rules) if rules \
        else sql.SQL("WHEN false THEN NULL")
    # One statement: each message's first reason, its quiet-hours deferral, and for the
    # rest, whether it would go over a cap (counting the chunk's earlier messages to the
    # same profile too: one email per booking can give a profile several).
    query = sql.SQL(
        "WITH chunk AS (SELECT m.id, m.profile_key, CASE {cases} END AS reason, {quiet} AS until "
        "FROM {m} m {joins} WHERE m.id = ANY(%(ids)s)), "
        "free AS (SELECT id, profile_key, row_number() OVER (PARTITION BY profile_key ORDER BY id) AS rank "
        "FROM chunk WHERE reason IS NULL AND (until IS NULL OR until <= statement_timestamp())) "
        "SELECT k.id, k.reason, k.until, {capped} FROM chunk k LEFT JOIN free c ON c.id = k.id").format(
        cases=cases, quiet=quiet if quiet is not None else sql.SQL("NULL::timestamptz"), m=message_table(),
        joins=joins,
        capped=sql.SQL("coalesce({}, false)").format(_cap_blocks(delivery.workspace_id, caps)) if caps
        else sql.SQL("false"))
    blocked: dict[int, Verdict] = {}
    with connection.cursor() as cursor:
        cursor.execute(render(query), {"ids": ids})
        for message_id, reason, until, capped in cursor.fetchall():
            if reason:
                blocked[message_id] = reason
            elif until is not None and until > timezone.now():
                blocked[message_id] = ("defer", until)
            elif capped:
                blocked[message_id] = "frequency_cap"
    return blocked


def event_hook(event, message) -> None:
    """Provider reports feed suppression and consent: hard bounces and complaints
    suppress the address at once, soft bounces count towards the workspace threshold,
    an unsubscribe reported by the provider withdraws the message's topic."""
    from apps.tenants.models import Workspace  # noqa: PLC0415

    from . import services  # noqa: PLC0415

    if not message.address or event.type not in ("bounced", "soft_bounced", "complained", "unsubscribed"):
        return
    workspace = Workspace.objects.get(pk=message.workspace_id)
    if event.type == "unsubscribed":
        delivery = message.delivery
        key = (delivery.options or {}).get("topic")
        for topic in Topic.objects.filter(workspace=workspace, channel=delivery.channel,
                                          **({"key": key} if key else {})):
            services.consent_record(workspace=workspace, profile_key=message.profile_key, topic=topic, granted=False,
                                    source="unsubscribe_link", actor="provider report",
                                    reference=f"message {message.pk}")
        return
    kind = "phone" if message.delivery.channel == "sms" else "email"
    services.bounce_record(workspace=workspace, address=message.address, hard=event.type == "bounced",
                           complaint=event.type == "complained", kind=kind)


class ConsentPolicy(SendPolicy):
    """The send policy of this app: consent, suppression, frequency caps, quiet hours,
    and the unsubscribe links and headers."""

    def exclusions(self, audience):
        return exclusion_hook(audience)

    def deferral(self, audience):
        return defer_hook(audience)

    def check_before_send(self, delivery, rows):
        return presend_hook(delivery, rows)

    def links(self, delivery, row):
        from . import links  # noqa: PLC0415

        return links.link_hook(delivery, row)

    def headers(self, delivery, row, links):
        from . import links as links_mod  # noqa: PLC0415

        return links_mod.header_hook(delivery, row, links)

    def settings_problem(self, workspace, channel, settings):
        return settings_problem(workspace, channel, settings)

    def on_event(self, event, message):
        event_hook(event, message)

    def setting_choices(self, workspace, channel):
        return {"topic": [(t.key, f"{t.name} ({t.get_policy_display()})")
                          for t in Topic.objects.filter(workspace=workspace, channel=channel)],
                "rule_set_id": [(str(r.pk), r.name) for r in RuleSet.objects.filter(workspace=workspace)]}


def install() -> None:
    from apps.channels import policy  # noqa: PLC0415

    policy.register(ConsentPolicy())

