"""A recorder of sending results that overlaps each result's commit with the next
message's preparation in the sending thread itself, for providers that wait for the
previous result right before their request leaves (`send_gated`: Web Push encrypts and
signs meanwhile).

Same contract as sending.Recorder: `mark` records a claimed message's result (only under
the task's claim token), `wait` returns once the previous result is committed, so that at
most one message is ever sent but unrecorded. Where Recorder hands each UPDATE to a helper
thread (which must take the GIL from a sending thread busy encrypting), this one sends it
on a second connection of its own without waiting (libpq's asynchronous query) and
collects the answer in `wait`: the database commits while Python keeps working."""

from __future__ import annotations

import datetime as dt
import select

import psycopg
from django.db import connection
from psycopg import pq

from .models import Message

# sending._mark's statement (see OWN_SENDING there), with libpq's placeholders.
MARK = (
    f"UPDATE {Message._meta.db_table} SET status = $1::text, reason = $2::text, error = $3::text, "
    f"provider_id = $4::text, lease_until = NULL, claim_token = NULL, attempts = attempts + $5::int, "
    f"next_attempt_at = $6::timestamptz, "
    f"sent_at = CASE WHEN $1::text = 'sent' THEN statement_timestamp() ELSE sent_at END, "
    f"segments = coalesce($9::smallint, segments) "
    f"WHERE id = $7::bigint AND (status = 'sending' AND claim_token = $8::bigint) IS TRUE").encode()
WAIT_S = 60.0  # a commit slower than this is a database in trouble: the task fails (its claims are taken over)


class PipelinedRecorder:
    def __init__(self, totals: dict[str, int], token: int):
        self.totals, self.token = totals, token
        self.conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self.conn.execute("SET synchronous_commit = off")  # as the sending connection (see send_some)
        self.pending_kind: str | None = None

    def mark(self, message_pk: int, status: str, kind: str = "", *, attempt: bool = False, reason: str = "",
             error: str = "", provider_id: str = "", retry_at: dt.datetime | None = None,
             segments: int | None = None) -> None:
        self.wait()
        params = [status, reason, error[:2000], provider_id[:200], str(int(attempt)),
                  retry_at.isoformat() if retry_at is not None else None, str(message_pk), str(self.token),
                  str(segments) if segments is not None else None]
        self.conn.pgconn.send_query_params(MARK, [p.encode() if p is not None else None for p in params])
        self.pending_kind = kind

    def wait(self) -> None:
        """The previous result's answer: committed (or not ours any more: taken over)."""
        if self.pending_kind is None:
            return
        kind, self.pending_kind = self.pending_kind, None
        pgconn = self.conn.pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            ready, _w, _x = select.select([pgconn.socket], [], [], WAIT_S)
            if not ready:
                raise psycopg.OperationalError(f"the ledger did not answer within {WAIT_S:.0f} s")
            pgconn.consume_input()
        rows, failure = 0, None
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                failure = (result.error_message or b"").decode(errors="replace")
            else:
                rows = result.command_tuples or 0
        if failure is not None:
            raise psycopg.DatabaseError(f"recording a result failed: {failure}")
        if rows == 1 and kind:
            self.totals[kind] += 1

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.conn.close()
