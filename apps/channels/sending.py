"""Sending a delivery: tasks claim chunks of queued messages with
`SELECT ... FOR UPDATE SKIP LOCKED`, render, hand them to the provider and record each
result at once, under a state guard (only a message in `sending` can become sent).

Exactly once, as far as we decide it: a message is claimed under the sending task's claim
token (apps/channels/claims.py), and only the holder of that token can record its result.
A live task's claims are never taken over, however slow its provider; a worker killed
mid-chunk leaves its claimed messages in `sending`, and they are taken over at once (the
task's advisory lock died with it) and sent with the same Message-ID (receiving servers
drop the copy). A duplicated or redelivered task finds nothing to claim. Celery is
at-least-once and a publish can be lost between commit and broker, so the sweeper (beat,
every 5 s) dispatches again any delivery with orphaned claims, or with claimable work and
no live task. A provider that cannot be reached pauses the delivery with backoff instead
of using one attempt per message."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.core.sqlutil import render as render_sql
from apps.core.sqlutil import workspace_schema
from apps.datamodel import ddl
from apps.datamodel.schema import Schema

from . import claims, policy, sms_receipts, throttle, tracking
from .models import ChannelConfig, Delivery, DeliveryStatus, Message
from .personalization import GLOBALS, Record, Renderer
from .providers import Outgoing, Permanent, ProviderDown, Retryable, Unavailable, provider_for

logger = logging.getLogger(__name__)

MESSAGE = Message._meta.db_table
PENDING = ("queued", "deferred", "sending")
TASK_BUDGET = 55  # seconds a task sends before it hands over (other deliveries get their turn)

def message_id(delivery: Delivery, message_pk: int) -> str:
    """Deterministic: the same message always carries the same Message-ID."""
    domain = (delivery.content.get("from_email") or settings.DEFAULT_FROM_EMAIL).rsplit("@", 1)[-1].strip(" >")
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{delivery.pk}.{message_pk}".encode(), hashlib.sha256)
    return f"<{delivery.pk}.{message_pk}.{digest.hexdigest()[:12]}@{domain or 'orchestrate.invalid'}>"


def config_for(delivery: Delivery) -> ChannelConfig | None:
    return ChannelConfig.objects.filter(workspace_id=delivery.workspace_id, channel=delivery.channel).first()


def _limits(config: ChannelConfig | None) -> tuple[int, int, int, float | None]:
    chunk = (config.chunk_size if config else 200) or 200
    rate = config.rate_per_second if config and config.rate_per_second else None
    if rate:
        chunk = max(1, min(chunk, int(rate * 30) or 1))  # a chunk takes about 30 s at most
    default = claims.lease_seconds()
    lease = max(default, int(2 * chunk / rate) if rate else default)
    if config and (config.options or {}).get("lease_seconds"):
        lease = max(1, int(config.options["lease_seconds"]))  # set short only where sends are quick (tests)
    attempts = (config.max_attempts if config else 5) or 5
    return chunk, lease, attempts, rate


# "Still ours": only the claim's holder records a result. Written as IS TRUE so that the
# planner cannot prove a partial index's predicate on status from it: on a young ledger it
# would find the message through the (small when planned) index of sent messages instead
# of the primary key, a scan that grows with every message sent.
OWN_SENDING = "(status = 'sending' AND claim_token = %s) IS TRUE"


def _mark(message_pk: int, status: str, *, token: int, attempt: bool = False, reason: str = "", error: str = "",
          provider_id: str = "", retry_at: dt.datetime | None = None, segments: int | None = None) -> bool:
    """Record a claimed message's outcome; only the task holding its claim can (a message
    taken over by another task is that task's to record). `attempt`: the provider was
    tried for this message (a crash, a consent verdict or a provider outage is none);
    `segments`: what a sent SMS took."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MESSAGE} SET status = %s, reason = %s, error = %s, provider_id = %s, lease_until = NULL, "
            f"claim_token = NULL, attempts = attempts + %s, next_attempt_at = %s, "
            f"sent_at = CASE WHEN %s = 'sent' THEN statement_timestamp() ELSE sent_at END, "
            f"segments = coalesce(%s, segments) "
            f"WHERE id = %s AND {OWN_SENDING}",
            [status, reason, error[:2000], provider_id[:200], int(attempt), retry_at, status, segments, message_pk,
             token])
        return cursor.rowcount == 1


def _mark_blocked(blocked: dict[int, policy.Verdict], totals: dict[str, int], token: int) -> None:
    """The send policy's verdicts on claimed messages, in one statement: excluded with
    their reason, or deferred (quiet hours) until the time given."""
    if not blocked:
        return
    ids, statuses, reasons, untils = [], [], [], []
    for message_pk, verdict in blocked.items():
        ids.append(message_pk)
        if isinstance(verdict, tuple):  # ("defer", until): quiet hours at the recipient's
            statuses.append("deferred"), reasons.append("quiet_hours"), untils.append(verdict[1])
        else:
            statuses.append("excluded"), reasons.append(verdict), untils.append(None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MESSAGE} m SET status = v.status, reason = v.reason, error = '', provider_id = '', "
            f"next_attempt_at = v.until, "
            f"lease_until = NULL, claim_token = NULL "
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[]) AS v(id, status, reason, until) "
            f"WHERE m.id = v.id AND m.status = 'sending' AND m.claim_token = %s RETURNING m.status",
            [ids, statuses, reasons, untils, token])
        for (status,) in cursor.fetchall():
            totals[status] += 1


def backoff(attempt: int) -> dt.timedelta:
    """30 s, 1 min, 2 min ... capped at 1 h, with jitter so retries do not arrive together."""
    seconds = min(3600, 30 * 2 ** max(0, attempt - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # jitter, not security


class RowLoader:
    """What each claimed message is rendered from, in one query per chunk: the profile
    row, the target row and the enrichment columns of the working table."""

    def __init__(self, delivery: Delivery, source: sql.Composable | None = None):
        """`source`: instead of claimed messages, any SELECT of (id, address, attempts,
        profile_key, target_key) rows: test runs render samples from their recipients."""
        options = delivery.options
        schema_name = workspace_schema(delivery.workspace_id)
        schema = Schema.load(delivery.workspace)
        profile = schema.entities.get(options.get("profile"))
        target = schema.entities.get(options.get("target"))
        select = [sql.SQL("m.id, m.address, m.attempts, m.profile_key")]
        joins = []
        if profile is not None:
            select.append(sql.SQL("to_jsonb(p) AS profile"))
            joins.append(sql.SQL("LEFT JOIN {t} p ON p.{pk} = m.profile_key::{type}").format(
                t=ddl.table(profile), pk=ddl.column(schema.pk(profile)), type=ddl.sql_type(schema.pk(profile).type)))
        else:
            select.append(sql.SQL("NULL::jsonb AS profile"))
        if target is not None and options.get("per_row"):
            select.append(sql.SQL("to_jsonb(t) AS target"))
            joins.append(sql.SQL("LEFT JOIN {t} t ON t.{pk} = m.target_key::{type}").format(
                t=ddl.table(target), pk=ddl.column(schema.pk(target)), type=ddl.sql_type(schema.pk(target).type)))
        else:
            select.append(sql.SQL("NULL::jsonb AS target"))
        table = options.get("table")
        if table and options.get("enrichment") and target is not None and _table_exists(schema_name, table):
            select.append(sql.SQL("to_jsonb(w) AS enrichment"))
            joins.append(sql.SQL("LEFT JOIN {w} w ON w.key = m.target_key::{type}").format(
                w=sql.Identifier(schema_name, table), type=ddl.sql_type(schema.pk(target).type)))
        else:
            select.append(sql.SQL("NULL::jsonb AS enrichment"))
        if source is None:
            self.query = render_sql(sql.SQL("SELECT {} FROM {} m {} WHERE m.id = ANY(%s) AND m.status = 'sending' "
                                            "ORDER BY m.id").format(sql.SQL(", ").join(select),
                                                                    sql.Identifier(MESSAGE), sql.SQL(" ").join(joins)))
        else:
            self.query = render_sql(sql.SQL("SELECT {} FROM ({}) m {} ORDER BY m.id").format(
                sql.SQL(", ").join(select), source, sql.SQL(" ").join(joins)))

    def load(self, ids: list[int] | None = None) -> list[dict[str, Any]]:
        with connection.cursor() as cursor:
            cursor.execute(self.query, [ids] if ids is not None else None)
            names = [c.name for c in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        # Django's psycopg setup hands jsonb over as text
        for row in rows:
            for name in ("profile", "target", "enrichment"):
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
        return rows


def _table_exists(schema_name: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema_name}"."{table}"'])
        return bool(cursor.fetchone()[0])


HIDDEN = ("_updated_at", "key")


def context_for(delivery: Delivery, row: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """One message's template context (runs for every message: kept lean)."""
    profile = Record.of(row.get("profile"), HIDDEN[:1])
    target = Record.of(row["target"], HIDDEN[:1]) if row.get("target") else profile
    enrichment = Record.of(row["enrichment"], HIDDEN) if row.get("enrichment") else EMPTY_RECORD
    ctx = base.copy()
    ctx["profile"], ctx["target"], ctx["enrichment"], ctx["message"] = profile, target, enrichment, {"id": row["id"]}
    language_attr, timezone_attr = base["_attrs"]
    if language_attr and profile.get(language_attr):
        ctx["_locale"] = profile[language_attr]
    if timezone_attr and profile.get(timezone_attr):
        ctx["_tz"] = profile[timezone_attr]
    ctx["links"] = policy.current().links(delivery, row)
    return ctx


EMPTY_RECORD = Record()


def _base_context(delivery: Delivery) -> dict[str, Any]:
    workspace = delivery.workspace
    options = delivery.options or {}
    return {**GLOBALS, "links": {}, "_attrs": (options.get("language_attr"), options.get("timezone_attr")),
            "workspace": {"name": workspace.name, "time_zone": workspace.time_zone,
                          "language": workspace.default_language},
            "variables": delivery.options.get("variables") or {},
            "_locale": workspace.default_language or "en", "_tz": workspace.time_zone or "UTC"}


def send_some(delivery_id: int, budget: float = TASK_BUDGET, chunks: int | None = None) -> dict[str, int]:
    """Claim and send chunks until nothing is claimable, the budget is spent, the provider
    is found down, or (when given) `chunks` chunks are done."""
    totals = {"sent": 0, "failed": 0, "deferred": 0, "excluded": 0}
    send_policy = policy.current()  # no policy: raise before anything is claimed, never send unchecked
    delivery = Delivery.objects.select_related("workspace").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.SENDING:
        return totals
    if timezone.now() >= delivery.expires_at:
        expire(delivery)
        return totals
    if delivery.paused_until is not None and delivery.paused_until > timezone.now():
        return totals  # the provider is down: the sweeper dispatches again when the pause ends
    config = config_for(delivery)
    chunk, lease, max_attempts, rate = _limits(config)
    try:
        provider = provider_for(delivery, config)
    except Unavailable as exc:
        Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).update(
            status="failed", reason="no_provider", error=str(exc))
        finish_if_done(delivery)
        return totals
    # Each message's result is its own commit; waiting for the WAL flush of every one
    # would cost more than sending it. A PostgreSQL crash (not a worker's) can forget
    # the last fraction of a second of results: those messages go again, with the same
    # Message-ID, which receiving servers use to drop the copy.
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    hold = claims.Claim(delivery.pk, lease)
    recorder = None
    try:
        hold.open()
        recorder = InlineRecorder(totals, hold.token) if connection.in_atomic_block else None
        context = _Chunk(delivery, config, totals, max_attempts, rate, hold)
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline and (chunks is None or chunks > 0):
            if chunks is not None:
                chunks -= 1
            if not Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).exists():
                break  # paused or stopped meanwhile: what is queued stays queued
            # The last-moment check runs in the claim's transaction: what the policy locks
            # (the chunk's profiles, for frequency caps) stays locked until the claims and
            # the verdicts commit together, so a concurrent chunk's check sees them.
            with transaction.atomic():
                ids = hold.claim(chunk)
                rows = context.loader.load(ids) if ids else []
                blocked = send_policy.check_before_send(delivery, rows) if rows else {}
                _mark_blocked(blocked, totals, hold.token)
            if not ids:
                break
            Delivery.objects.filter(pk=delivery.pk).update(heartbeat_at=timezone.now())
            if recorder is None and not getattr(provider, "batch", False):
                # Inside a transaction (tests, proofs sent inline) a second connection
                # would not see the messages: record inline then (above).
                recorder = _recorder_for(provider, totals, hold.token)
            try:
                context.send(provider, rows, blocked, recorder)
            except ProviderDown as exc:
                # One event for the delivery: the chunk goes back untouched (no attempt
                # used) and the delivery waits, with backoff, until the provider is back.
                if recorder is not None:
                    recorder.wait()  # the last accepted message is recorded, not handed back
                hold.release()
                claims.pause(delivery.pk, f"{exc.code} {exc.text}")
                logger.warning("delivery %s: provider down (%s), paused", delivery.pk, exc)
                break
            if delivery.outage_since is not None and totals["sent"]:
                claims.resume(delivery.pk)
                delivery.outage_since = None
    finally:
        try:
            if recorder is not None:
                recorder.close()
            if hasattr(provider, "close"):
                provider.close()
            Delivery.objects.filter(pk=delivery.pk).update(heartbeat_at=None)
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        finally:
            # After every result is recorded: what is still `sending` under this token
            # is free for the next task at once.
            hold.close()
    if delivery.channel == "sms":
        sms_receipts.settle(delivery.pk)  # receipts that came before their message's result was recorded
    if delivery.outage_since is not None and totals["sent"]:
        claims.resume(delivery.pk)
    finish_if_done(delivery)
    return totals


class _Chunk:
    """Renders and sends the claimed messages of one task, chunk by chunk."""

    def __init__(self, delivery: Delivery, config: ChannelConfig | None, totals: dict[str, int], max_attempts: int,
                 rate: float | None, hold: claims.Claim):
        self.delivery, self.totals, self.max_attempts, self.rate, self.hold = (
            delivery, totals, max_attempts, rate, hold)
        self.policy = policy.current()
        self.renderer = Renderer(delivery.channel, delivery.content)
        self.loader = RowLoader(delivery)
        self.base = _base_context(delivery)
        self.tracker = tracking.Tracker(tracking.base_url(config, delivery), clicks=delivery.options.get("track_clicks", True),
                                        opens=delivery.options.get("track_opens", True))
        self.shortener = tracking.shortener_for(delivery, config)  # SMS links, push URLs

    def send(self, provider, rows: list[dict[str, Any]], blocked: dict[int, policy.Verdict],
             recorder: Recorder | None) -> None:
        """Render and hand over the chunk's messages the send policy let through (its
        verdicts on the others are already recorded)."""
        delivery, totals, token = self.delivery, self.totals, self.hold.token
        items = []
        for row in rows:
            if row["id"] in blocked:
                continue
            if timezone.now() >= delivery.expires_at:
                _mark(row["id"], "expired", token=token, reason="window_ended")
                continue
            try:
                ctx = context_for(delivery, row, self.base)
                fields = self.renderer.render(ctx)
            except Exception as exc:  # noqa: BLE001 - one recipient's data broke the template
                _mark(row["id"], "failed", token=token, reason="render_error", error=f"{type(exc).__name__}: {exc}")
                totals["failed"] += 1
                continue
            if delivery.channel == "email" and fields.get("html"):
                fields["html"] = self.tracker.rewrite(fields["html"], row["id"])
            elif self.shortener is not None:
                tracking.shorten_fields(self.shortener, delivery.channel, fields, row["id"])
            headers = self.policy.headers(delivery, row, ctx["links"])
            items.append((row, Outgoing(id=row["id"], address=row["address"],
                                        message_id=message_id(delivery, row["id"]), fields=fields,
                                        context=ctx, headers=headers)))
        if getattr(provider, "batch", False):
            _send_batch(provider, items, totals, self.max_attempts, token)
            return
        if hasattr(provider, "prepare"):
            provider.prepare([item for _row, item in items])  # e.g. the chunk's push devices in one query
        for row, item in items:
            throttle.acquire(f"{delivery.workspace_id}:{delivery.channel}", self.rate)
            self.hold.renew()  # a slow provider keeps the lease fresh
            _send_one(provider, row, item, totals, self.max_attempts, recorder)


def _recorder_for(provider, totals: dict[str, int], token: int):
    """A provider that waits for the previous result itself (send_gated) gets the recorder
    that commits in this thread while the next message is prepared; the others the
    helper-thread one (SMTP: the envelope goes while the result commits)."""
    if hasattr(provider, "send_gated"):
        from .pipelined import PipelinedRecorder  # noqa: PLC0415

        return PipelinedRecorder(totals, token)
    return Recorder(totals, token)


class Recorder:
    """Records each message's result on a second connection, in a helper thread, so the
    next message's envelope (MAIL FROM, RCPT TO) is on the wire while the last result
    commits. At most one result is ever unrecorded: the next message's DATA (when the
    server accepts it) waits for the previous result's commit. So a worker killed at any
    point leaves at most one message sent but not recorded per connection: it goes again
    when its claim is taken over, with the same Message-ID."""

    def __init__(self, totals: dict[str, int], token: int):
        self.totals, self.token = totals, token
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self.pending = None
        self.pending_kind = ""
        self.pool.submit(self._setup).result()

    @staticmethod
    def _setup() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")

    def wait(self) -> None:
        if self.pending is not None:
            recorded = self.pending.result()
            if recorded and self.pending_kind:
                self.totals[self.pending_kind] += 1
            self.pending = None

    def mark(self, message_pk: int, status: str, kind: str = "", **fields) -> None:
        self.wait()
        self.pending_kind = kind
        self.pending = self.pool.submit(_mark, message_pk, status, token=self.token, **fields)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.submit(_close_thread_connection).result()
            self.pool.shutdown()


def _close_thread_connection() -> None:
    connection.close()  # looked up in the ledger thread: that thread's own connection


class InlineRecorder(Recorder):
    """The same contract, recorded on this connection as each result comes."""

    def __init__(self, totals: dict[str, int], token: int):
        self.totals, self.token = totals, token

    def wait(self) -> None:
        pass

    def mark(self, message_pk: int, status: str, kind: str = "", **fields) -> None:
        if _mark(message_pk, status, token=self.token, **fields) and kind:
            self.totals[kind] += 1

    def close(self) -> None:
        pass


def _send_one(provider, row, item: Outgoing, totals: dict[str, int], max_attempts: int,
              recorder: Recorder) -> None:
    """Hand one message to the provider and record the answer. ProviderDown (the provider
    cannot be reached at all) goes up: it is the delivery's problem, not this message's."""
    try:
        data = provider.begin(item) if hasattr(provider, "begin") else None
        if data is None and hasattr(provider, "send_gated"):
            # The provider waits for the previous result itself, right before its request
            # leaves: the SDK builds (encrypts, signs) this message while that result commits.
            provider_id = provider.send_gated(item, recorder.wait)
        else:
            recorder.wait()  # the previous result is committed before this message can be accepted
            provider_id = provider.commit(data) if data is not None else provider.send(item)
    except ProviderDown:
        raise
    except Retryable as exc:
        if row["attempts"] + 1 >= max_attempts:
            recorder.mark(item.id, "failed", "failed", attempt=True, reason="retries_exhausted",
                          error=f"{exc.code} {exc.text}")
        else:
            recorder.mark(item.id, "deferred", "deferred", attempt=True, reason="retry", error=f"{exc.code} {exc.text}",
                          retry_at=timezone.now() + backoff(row["attempts"] + 1))
        return
    except Permanent as exc:
        recorder.mark(item.id, "failed", "failed", attempt=True, reason="rejected", error=f"{exc.code} {exc.text}")
        return
    recorder.mark(item.id, "sent", "sent", attempt=True, provider_id=provider_id or "",
                  segments=getattr(provider, "segments", None))


def _send_batch(provider, items, totals, max_attempts, token: int) -> None:
    if not items:
        return
    try:
        results = provider.send_batch([item for _row, item in items])
    except ProviderDown:
        raise
    except Retryable as exc:
        for row, item in items:
            _send_one_failed(row, item, exc, totals, max_attempts, token)
        return
    for _row, item in items:
        result = results.get(item.id)
        if isinstance(result, Exception):
            _mark(item.id, "failed", token=token, attempt=True, reason="rejected", error=str(result))
            totals["failed"] += 1
        elif _mark(item.id, "sent", token=token, attempt=True, provider_id=result or ""):
            totals["sent"] += 1


def _send_one_failed(row, item, exc: Retryable, totals, max_attempts, token: int) -> None:
    if row["attempts"] + 1 >= max_attempts:
        _mark(item.id, "failed", token=token, attempt=True, reason="retries_exhausted", error=f"{exc.code} {exc.text}")
        totals["failed"] += 1
    else:
        _mark(item.id, "deferred", token=token, attempt=True, reason="retry", error=f"{exc.code} {exc.text}",
              retry_at=timezone.now() + backoff(row["attempts"] + 1))
        totals["deferred"] += 1


SAMPLE_HTML_CHARS = 200_000  # per sample, in the run's report: three of them at most per activity


def sample_renders(delivery: Delivery, source: sql.Composable, limit: int = 3) -> list[dict[str, Any]]:
    """What the first recipients of `source` would get (test runs): rendered fields, or
    the error that would fail that message. `delivery` is an unsaved one (content and
    options) and never written."""
    renderer = Renderer(delivery.channel, delivery.content)
    base = _base_context(delivery)
    samples = []
    for row in RowLoader(delivery, source).load()[:limit]:
        sample: dict[str, Any] = {"address": row["address"]}
        try:
            fields = renderer.render(context_for(delivery, row, base))
            if delivery.channel == "sms" and (delivery.options or {}).get("track_clicks") and fields.get("text"):
                fields["text"] = tracking.preview_text(fields["text"], tracking.tracking_base(delivery))
            keep_text = delivery.channel in ("sms", "push")  # an email's text part repeats its HTML
            # kept whole enough to be shown as the recipient would see it (the run page frames
            # an email's or a letter's HTML); the other fields are short anyway
            sample.update({k: v[:SAMPLE_HTML_CHARS if k in ("html", "css") else 2000] for k, v in fields.items()
                           if k != "text" or keep_text})
            if delivery.channel == "sms":
                from . import smstext  # noqa: PLC0415

                sample["sms"] = smstext.analyse(fields.get("text") or "").as_dict()
        except Exception as exc:  # noqa: BLE001 - shown as this recipient's problem
            sample["error"] = f"{type(exc).__name__}: {exc}"
        samples.append(sample)
    return samples


def has_pending(delivery: Delivery) -> bool:
    return Message.objects.filter(delivery=delivery, status__in=PENDING).exists()


def finish_if_done(delivery: Delivery) -> bool:
    if has_pending(delivery):
        return False
    finished = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.DONE, finished_at=timezone.now())
    if finished:
        for hook in FINISH_HOOKS:
            hook(Delivery.objects.get(pk=delivery.pk))
    return bool(finished)


# Called once when a delivery has sent everything (direct mail writes its manifest).
FINISH_HOOKS: list[Callable[[Delivery], None]] = []


def expire(delivery: Delivery) -> int:
    """The execution window ended: what is still queued or deferred, or was left claimed by
    a dead sender, is expired and counted (a live sender's messages finish)."""
    count = Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).update(
        status="expired", reason="window_ended", next_attempt_at=None)
    count += claims.expire_orphans(delivery.pk)
    if not Message.objects.filter(delivery=delivery, status="sending").exists():
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.EXPIRED, finished_at=timezone.now())
    return count


def dispatch(delivery: Delivery, tasks: int | None = None) -> None:
    """Start the sending tasks (after the delivery's transaction commits)."""
    config = config_for(delivery)
    count = tasks or (config.parallel_tasks if config else 2) or 1
    delivery_pk = delivery.pk

    def publish():
        for _ in range(count):
            DISPATCH(delivery_pk)

    transaction.on_commit(publish)


def _dispatch_celery(delivery_pk: int) -> None:
    from .tasks import send_delivery  # noqa: PLC0415

    send_delivery.apply_async(args=[delivery_pk])


DISPATCH: Callable[[int], None] = _dispatch_celery  # tests swap in an in-process queue


def sweep(now=None) -> dict[str, int]:
    """Beat, every 5 s: expire ended windows, close finished deliveries, and dispatch
    again the deliveries whose claims a dead task left (at once: one task when others
    still run) or that have due work and no live sending task. A delivery paused for a
    provider outage waits for the end of its pause."""
    now = now or timezone.now()
    done = {"expired": 0, "finished": 0, "dispatched": 0}
    for delivery in Delivery.objects.filter(status=DeliveryStatus.SENDING).select_related("workspace"):
        if now >= delivery.expires_at:
            expire(delivery)
            done["expired"] += 1
            continue
        if finish_if_done(delivery):
            done["finished"] += 1
            continue
        if delivery.paused_until is not None and delivery.paused_until > now:
            continue
        alive = claims.task_alive(delivery.pk)
        if claims.orphaned(delivery.pk) or (not alive and claims.due(delivery.pk)):
            with transaction.atomic():
                dispatch(delivery, tasks=1 if alive else None)
            done["dispatched"] += 1
    return done


def delivery_stop(*, delivery: Delivery) -> int:
    """Cancel what has not left yet; messages being sent right now finish."""
    with transaction.atomic():
        cancelled = Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).update(
            status="cancelled", reason="stopped", next_attempt_at=None)
        Delivery.objects.filter(pk=delivery.pk, status__in=[DeliveryStatus.SENDING, DeliveryStatus.PAUSED]).update(
            status=DeliveryStatus.STOPPED, finished_at=timezone.now())
    return cancelled
