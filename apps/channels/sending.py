"""Sending a delivery: tasks claim chunks of queued messages with
`SELECT ... FOR UPDATE SKIP LOCKED`, render, hand them to the provider and record each
result at once, under a state guard (only a message in `sending` can become sent).

Exactly once, as far as we decide it: a message is claimed with a lease; a worker killed
mid-chunk leaves its claimed messages in `sending` until the lease ends, then they are
claimed again and sent with the same Message-ID (receiving servers drop the copy). A
duplicated or redelivered task finds nothing to claim. Celery is at-least-once and a
publish can be lost between commit and broker, so the sweeper (beat, every 30 s)
dispatches again any delivery with claimable work and no live task."""

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

from apps.audiences.rules.schema import Schema
from apps.core.sqlutil import render as render_sql
from apps.core.sqlutil import workspace_schema
from apps.datamodel import ddl

from . import throttle, tracking
from .models import ChannelConfig, Delivery, DeliveryStatus, Message
from .personalization import GLOBALS, Record, Renderer
from .providers import Outgoing, Permanent, Retryable, Unavailable, provider_for

logger = logging.getLogger(__name__)

MESSAGE = Message._meta.db_table
PENDING = ("queued", "deferred", "sending")
DEFAULT_LEASE = 120  # seconds a claim holds before another task may take the message over
TASK_BUDGET = 55  # seconds a task sends before it hands over (other deliveries get their turn)

# Hooks of the consent layer: called with (delivery, rows) just before sending a chunk;
# return {message id: reason} for the messages that must not leave after all, or
# {message id: ("defer", until)} for those that must wait (quiet hours).
PRESEND_HOOKS: list[Callable[[Delivery, list[dict[str, Any]]], dict[int, str]]] = []
# Extra headers per message (List-Unsubscribe...): (delivery, row, links) -> headers.
HEADER_HOOKS: list[Callable[[Delivery, dict[str, Any], dict[str, str]], dict[str, str]]] = []
# Links per message for templates (links.unsubscribe...): (delivery, row) -> {name: url}.
LINK_HOOKS: list[Callable[[Delivery, dict[str, Any]], dict[str, str]]] = []


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
    lease = max(DEFAULT_LEASE, int(2 * chunk / rate) if rate else DEFAULT_LEASE)
    if config and (config.options or {}).get("lease_seconds"):
        lease = max(1, int(config.options["lease_seconds"]))  # set short only where sends are quick (tests)
    attempts = (config.max_attempts if config else 5) or 5
    return chunk, lease, attempts, rate


def claim(delivery_id: int, size: int, lease: int) -> list[int]:
    """Take up to `size` messages: queued, deferred and due, or sending with an ended lease."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MESSAGE} SET status = 'sending', attempts = attempts + 1, "
            f"lease_until = statement_timestamp() + make_interval(secs => %s) WHERE id IN ("
            f"SELECT id FROM {MESSAGE} WHERE delivery_id = %s AND status IN ('queued', 'deferred', 'sending') "
            f"AND CASE status WHEN 'sending' THEN lease_until < statement_timestamp() "
            f"ELSE coalesce(next_attempt_at, '-infinity') <= statement_timestamp() END "
            f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [lease, delivery_id, size])
        return sorted(r[0] for r in cursor.fetchall())


def _mark(message_pk: int, status: str, *, reason: str = "", error: str = "", provider_id: str = "",
          retry_at: dt.datetime | None = None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MESSAGE} SET status = %s, reason = %s, error = %s, provider_id = %s, lease_until = NULL, "
            f"next_attempt_at = %s, sent_at = CASE WHEN %s = 'sent' THEN statement_timestamp() ELSE sent_at END "
            f"WHERE id = %s AND status = 'sending'",
            [status, reason, error[:2000], provider_id[:200], retry_at, status, message_pk])
        return cursor.rowcount == 1


def backoff(attempt: int) -> dt.timedelta:
    """30 s, 1 min, 2 min ... capped at 1 h, with jitter so retries do not arrive together."""
    seconds = min(3600, 30 * 2 ** max(0, attempt - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


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
    if LINK_HOOKS:
        links: dict[str, str] = {}
        for hook in LINK_HOOKS:
            links.update(hook(delivery, row))
        ctx["links"] = links
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
    """Claim and send chunks until nothing is claimable, the budget is spent, or (when
    given) `chunks` chunks are done."""
    totals = {"sent": 0, "failed": 0, "deferred": 0, "excluded": 0}
    delivery = Delivery.objects.select_related("workspace").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.SENDING:
        return totals
    if timezone.now() >= delivery.expires_at:
        expire(delivery)
        return totals
    config = config_for(delivery)
    chunk, lease, max_attempts, rate = _limits(config)
    renderer = Renderer(delivery.channel, delivery.content)
    loader = RowLoader(delivery)
    base = _base_context(delivery)
    # Each message's result is its own commit; waiting for the WAL flush of every one
    # would cost more than sending it. A PostgreSQL crash (not a worker's) can forget
    # the last fraction of a second of results: those messages go again, with the same
    # Message-ID, which receiving servers use to drop the copy.
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    tracker = tracking.Tracker(tracking.base_url(config), clicks=delivery.options.get("track_clicks", True),
                               opens=delivery.options.get("track_opens", True))
    deadline = time.monotonic() + budget
    recorder = None
    try:
        provider = provider_for(delivery, config)
    except Unavailable as exc:
        Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).update(
            status="failed", reason="no_provider", error=str(exc))
        finish_if_done(delivery)
        return totals
    try:
        while time.monotonic() < deadline and (chunks is None or chunks > 0):
            if chunks is not None:
                chunks -= 1
            if not Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).exists():
                break  # paused or stopped meanwhile: what is queued stays queued
            ids = claim(delivery.pk, chunk, lease)
            if not ids:
                break
            Delivery.objects.filter(pk=delivery.pk).update(heartbeat_at=timezone.now())
            rows = loader.load(ids)
            blocked: dict[int, str] = {}
            for hook in PRESEND_HOOKS:
                blocked.update(hook(delivery, rows))
            items = []
            for row in rows:
                if row["id"] in blocked:
                    verdict = blocked[row["id"]]
                    if isinstance(verdict, tuple):  # ("defer", until): quiet hours at the recipient's
                        _mark(row["id"], "deferred", reason="quiet_hours", retry_at=verdict[1])
                        totals["deferred"] += 1
                    else:
                        _mark(row["id"], "excluded", reason=verdict)
                        totals["excluded"] += 1
                    continue
                if timezone.now() >= delivery.expires_at:
                    _mark(row["id"], "expired", reason="window_ended")
                    continue
                try:
                    ctx = context_for(delivery, row, base)
                    fields = renderer.render(ctx)
                except Exception as exc:  # noqa: BLE001 - one recipient's data broke the template
                    _mark(row["id"], "failed", reason="render_error", error=f"{type(exc).__name__}: {exc}")
                    totals["failed"] += 1
                    continue
                if delivery.channel == "email" and fields.get("html"):
                    fields["html"] = tracker.rewrite(fields["html"], row["id"])
                headers: dict[str, str] = {}
                for hook in HEADER_HOOKS:
                    headers.update(hook(delivery, row, ctx["links"]))
                items.append((row, Outgoing(id=row["id"], address=row["address"],
                                            message_id=message_id(delivery, row["id"]), fields=fields,
                                            context=ctx, headers=headers)))
            if getattr(provider, "batch", False):
                _send_batch(provider, items, totals, max_attempts)
            else:
                if recorder is None:
                    # Inside a transaction (tests, proofs sent inline) a second connection
                    # would not see the messages: record inline then.
                    recorder = InlineRecorder(totals) if connection.in_atomic_block else Recorder(totals)
                for row, item in items:
                    throttle.acquire(f"{delivery.workspace_id}:{delivery.channel}", rate)
                    _send_one(provider, row, item, totals, max_attempts, recorder)
    finally:
        if recorder is not None:
            recorder.close()
        if hasattr(provider, "close"):
            provider.close()
        Delivery.objects.filter(pk=delivery.pk).update(heartbeat_at=None)
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    finish_if_done(delivery)
    return totals


class Recorder:
    """Records each message's result on a second connection, in a helper thread, so the
    next message's envelope (MAIL FROM, RCPT TO) is on the wire while the last result
    commits. At most one result is ever unrecorded: the next message's DATA (when the
    server accepts it) waits for the previous result's commit. So a worker killed at any
    point leaves at most one message sent but not recorded: it goes again after its
    lease, with the same Message-ID."""

    def __init__(self, totals: dict[str, int]):
        self.totals = totals
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
        self.pending = self.pool.submit(_mark, message_pk, status, **fields)

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

    def __init__(self, totals: dict[str, int]):
        self.totals = totals

    def wait(self) -> None:
        pass

    def mark(self, message_pk: int, status: str, kind: str = "", **fields) -> None:
        if _mark(message_pk, status, **fields) and kind:
            self.totals[kind] += 1

    def close(self) -> None:
        pass


def _send_one(provider, row, item: Outgoing, totals: dict[str, int], max_attempts: int,
              recorder: Recorder) -> None:
    try:
        data = provider.begin(item) if hasattr(provider, "begin") else None
        recorder.wait()  # the previous result is committed before this message can be accepted
        provider_id = provider.commit(data) if data is not None else provider.send(item)
    except Retryable as exc:
        if row["attempts"] >= max_attempts:
            recorder.mark(item.id, "failed", "failed", reason="retries_exhausted", error=f"{exc.code} {exc.text}")
        else:
            recorder.mark(item.id, "deferred", "deferred", reason="retry", error=f"{exc.code} {exc.text}",
                          retry_at=timezone.now() + backoff(row["attempts"]))
        return
    except Permanent as exc:
        recorder.mark(item.id, "failed", "failed", reason="rejected", error=f"{exc.code} {exc.text}")
        return
    recorder.mark(item.id, "sent", "sent", provider_id=provider_id or "")


def _send_batch(provider, items, totals, max_attempts) -> None:
    if not items:
        return
    try:
        results = provider.send_batch([item for _row, item in items])
    except Retryable as exc:
        for row, item in items:
            _send_one_failed(row, item, exc, totals, max_attempts)
        return
    for _row, item in items:
        result = results.get(item.id)
        if isinstance(result, Exception):
            _mark(item.id, "failed", reason="rejected", error=str(result))
            totals["failed"] += 1
        elif _mark(item.id, "sent", provider_id=result or ""):
            totals["sent"] += 1


def _send_one_failed(row, item, exc: Retryable, totals, max_attempts) -> None:
    if row["attempts"] >= max_attempts:
        _mark(item.id, "failed", reason="retries_exhausted", error=f"{exc.code} {exc.text}")
        totals["failed"] += 1
    else:
        _mark(item.id, "deferred", reason="retry", error=f"{exc.code} {exc.text}",
              retry_at=timezone.now() + backoff(row["attempts"]))
        totals["deferred"] += 1


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
            sample.update({k: v[:2000] for k, v in fields.items() if k != "text"})
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
    """The execution window ended: what is still queued or deferred is expired and counted."""
    count = Message.objects.filter(delivery=delivery, status__in=["queued", "deferred"]).update(
        status="expired", reason="window_ended", next_attempt_at=None)
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
    """Beat, every 30 s: expire ended windows, close finished deliveries, and dispatch
    again the deliveries that have due work and no live sending task."""
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
        config = config_for(delivery)
        _chunk, lease, _attempts, _rate = _limits(config)
        alive = delivery.heartbeat_at and delivery.heartbeat_at > now - dt.timedelta(seconds=lease)
        if alive:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {MESSAGE} WHERE delivery_id = %s AND status IN "
                f"('queued', 'deferred', 'sending') AND CASE status WHEN 'sending' THEN lease_until < %s "
                f"ELSE coalesce(next_attempt_at, '-infinity') <= %s END)", [delivery.pk, now, now])
            due = cursor.fetchone()[0]
        if due:
            with transaction.atomic():
                dispatch(delivery)
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
