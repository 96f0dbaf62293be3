"""Who is sending which message right now, and whether that sender is still alive.

A sending task draws a random claim token and holds a PostgreSQL session advisory lock
keyed by it on its own connection for as long as it runs; every message it claims
carries the token, and every state change of a claimed message checks it (a message
taken over by another task can no longer be recorded by the first). PostgreSQL drops the
lock when the task's process dies, so:

- a claim whose lock is held belongs to a live sender, however slow: never taken over;
- a claim whose lock is free belongs to a dead one: taken over at once by the next
  claim, and the sweeper dispatches a task for it without waiting.

The lease (renewed while a chunk is sent) is kept as the backstop for claims without a
token. Each task also holds a shared lock on its delivery, so the sweeper can tell a
delivery with a live task from one whose tasks are all gone."""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.db import connection

from .models import Delivery, Message

MESSAGE = Message._meta.db_table
DELIVERY = Delivery._meta.db_table
# Namespace of the two-key advisory locks a task holds on its delivery ("send").
TASK_LOCK_SPACE = 0x73656E64

# A 'sending' message may be taken over when its owner is dead: a token whose lock
# nobody holds (tried per row, so a claim committed while this statement runs is seen
# live), or, for a claim without a token, an ended lease. Never this task's own claims.
# Queued and deferred messages are claimable when due.
CLAIMABLE = (
    "CASE status WHEN 'sending' THEN CASE WHEN claim_token IS NULL THEN lease_until < statement_timestamp() "
    "WHEN claim_token = %(own)s THEN false ELSE pg_try_advisory_xact_lock(claim_token) END "
    "ELSE coalesce(next_attempt_at, '-infinity') <= statement_timestamp() END")


def lease_seconds() -> int:
    return max(1, int(settings.SEND_LEASE_SECONDS))


class Claim:
    """One sending task's hold on its messages: `open()` takes the locks, `claim()` takes
    chunks, `renew()` keeps the lease fresh, `close()` lets go (in `finally`)."""

    def __init__(self, delivery_id: int, lease: int):
        self.delivery_id, self.lease = delivery_id, lease
        # 62 random bits: positive, and a collision with another live token is never met.
        self.token = secrets.randbits(62) + 1
        self.renewed = time.monotonic()
        self.held = False

    def open(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s), pg_advisory_lock_shared(%s, %s)",
                           [self.token, TASK_LOCK_SPACE, _task_key(self.delivery_id)])
        self.held = True

    def close(self) -> None:
        if not self.held:
            return
        self.held = False
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s), pg_advisory_unlock_shared(%s, %s)",
                           [self.token, TASK_LOCK_SPACE, _task_key(self.delivery_id)])

    def claim(self, size: int) -> list[int]:
        """Take up to `size` messages: queued or deferred and due, or held by a dead sender."""
        # The picked ids are materialized first: as `id IN (SELECT ... LIMIT n FOR UPDATE
        # SKIP LOCKED)` the planner may run the subquery again per outer row (a nested-loop
        # semi-join on a freshly created table), which claimed more than `size` messages.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH picked AS MATERIALIZED (SELECT id FROM {MESSAGE} WHERE delivery_id = %(delivery)s "
                f"AND status IN ('queued', 'deferred', 'sending') AND {CLAIMABLE} "
                f"ORDER BY id LIMIT %(size)s FOR UPDATE SKIP LOCKED) "
                f"UPDATE {MESSAGE} m SET status = 'sending', claim_token = %(own)s, "
                f"lease_until = statement_timestamp() + make_interval(secs => %(lease)s) "
                f"FROM picked WHERE m.id = picked.id RETURNING m.id",
                {"own": self.token, "lease": self.lease, "delivery": self.delivery_id, "size": size})
            ids = sorted(r[0] for r in cursor.fetchall())
        self.renewed = time.monotonic()
        return ids

    def renew(self, force: bool = False) -> None:
        """Push the lease of this task's claims on (at most every third of a lease)."""
        if not force and time.monotonic() - self.renewed < self.lease / 3:
            return
        self.renewed = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {MESSAGE} SET lease_until = statement_timestamp() + make_interval(secs => %s) "
                f"WHERE delivery_id = %s AND claim_token = %s AND status = 'sending'",
                [self.lease, self.delivery_id, self.token])
            cursor.execute(f"UPDATE {DELIVERY} SET heartbeat_at = statement_timestamp() WHERE id = %s",
                           [self.delivery_id])

    def release(self) -> int:
        """Hand this task's unsent claims back untouched (no attempt used): the provider is
        down, and another task takes them when it is back."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {MESSAGE} SET status = 'queued', claim_token = NULL, lease_until = NULL "
                f"WHERE delivery_id = %s AND claim_token = %s AND status = 'sending'",
                [self.delivery_id, self.token])
            return cursor.rowcount


def _task_key(delivery_id: int) -> int:
    return delivery_id % 2**31  # the two-key form takes 32-bit keys


def task_alive(delivery_id: int) -> bool:
    """Whether any sending task of the delivery is running (holds its delivery lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid)",
            [TASK_LOCK_SPACE, _task_key(delivery_id)])
        return bool(cursor.fetchone()[0])


def orphaned(delivery_id: int) -> bool:
    """Whether the delivery has messages held by a dead sender (or whose lease ended)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {MESSAGE} WHERE delivery_id = %(delivery)s AND status = 'sending' "
            f"AND {CLAIMABLE})", {"delivery": delivery_id, "own": 0})
        return bool(cursor.fetchone()[0])


def expire_orphans(delivery_id: int) -> int:
    """The window ended: messages a dead sender left claimed will not be sent."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MESSAGE} SET status = 'expired', reason = 'window_ended', claim_token = NULL, "
            f"lease_until = NULL WHERE delivery_id = %(delivery)s AND status = 'sending' AND {CLAIMABLE}",
            {"delivery": delivery_id, "own": 0})
        return cursor.rowcount


def due(delivery_id: int) -> bool:
    """Whether the delivery has queued or deferred messages that may be sent now."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {MESSAGE} WHERE delivery_id = %s AND status IN ('queued', 'deferred') "
            f"AND coalesce(next_attempt_at, '-infinity') <= statement_timestamp())", [delivery_id])
        return bool(cursor.fetchone()[0])


def pause(delivery_id: int, error: str) -> None:
    """The provider could not be reached: one event for the delivery. The first failure
    of a pause backs off BACKOFF s, each next one twice as long, up to BACKOFF_MAX; tasks
    failing together during the same pause count once."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERY} SET outage_since = coalesce(outage_since, statement_timestamp()), "
            f"outage_error = %(error)s, "
            f"outage_failures = CASE WHEN paused_until > statement_timestamp() THEN outage_failures "
            f"ELSE outage_failures + 1 END, "
            f"paused_until = CASE WHEN paused_until > statement_timestamp() THEN paused_until "
            f"ELSE statement_timestamp() + make_interval(secs => least(%(cap)s, %(base)s * power(2, "
            f"least(outage_failures, 30)))) END WHERE id = %(delivery)s",
            {"error": error[:500], "cap": float(settings.SEND_OUTAGE_BACKOFF_MAX_SECONDS),
             "base": float(settings.SEND_OUTAGE_BACKOFF_SECONDS), "delivery": delivery_id})


def resume(delivery_id: int) -> None:
    """The provider took a message again: the outage is over."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERY} SET outage_since = NULL, outage_failures = 0, outage_error = '', paused_until = NULL "
            f"WHERE id = %s AND outage_since IS NOT NULL", [delivery_id])
