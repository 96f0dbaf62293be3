"""Consent import, from a CSV file or a JSON batch, under the data ingestion's rules:
every problem is reported with its row, field and why; `mode="reject"` writes nothing when
any row is bad, `mode="skip"` leaves out bad rows up to `max_errors` (past it, nothing is
written either).

Rows are validated in Python (one dictionary lookup per row: topics are loaded once), then
written set-based in ONE statement: the events go in with INSERT ... SELECT FROM unnest()
and, in the same statement, the current state moves to the newest answer of each
(topic, profile) with INSERT ... ON CONFLICT DO UPDATE ... WHERE newer: the same rule as
services.consent_record (newest `at` wins; an older imported answer joins the history but
does not override a later one). One audit entry per import, not per row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from psycopg import sql

from apps.core.sqlutil import execute
from apps.tenants.services import audit_record

from .models import ConsentEvent, ConsentState, Source, Topic

COLUMNS = ("profile_key", "topic", "channel", "granted", "at", "source", "proof")
REQUIRED = ("profile_key", "topic", "granted")
TRUE = {"true", "yes", "1", "y", "t"}
FALSE = {"false", "no", "0", "n", "f"}
MODES = ("reject", "skip")
DEFAULT_MAX_ERRORS = 100
# Past this many rows a synchronous import holds a request too long: split the file.
MAX_ROWS = 200_000
# Problems listed in a report; the count is always complete.
MAX_REPORTED = 1_000
# A consent dated later than now (beyond clock skew) would block every real answer after it.
FUTURE_SKEW = dt.timedelta(minutes=5)
PROFILE_KEY_MAX = 200
PROOF_MAX = 10_000
IMPORT_SOURCES = [s for s in Source.values if s != Source.ERASURE]


class ImportError_(Exception):  # `ImportError` is a builtin
    """The whole input is unreadable (not CSV, missing columns...): nothing to do per row."""

    def __init__(self, problems: list[dict[str, Any]]):
        super().__init__("; ".join(p["reason"] for p in problems))
        self.problems = problems


@dataclass
class ImportReport:
    status: str = "done"  # done | rejected
    mode: str = "reject"
    rows: int = 0
    imported: int = 0
    granted: int = 0
    withdrawn: int = 0
    skipped: int = 0
    states_changed: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def problem(self, row: int, field_name: str, value: Any, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append({"row": row, "field": field_name, "value": "" if value is None else str(value)[:200],
                                "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Good:
    profile_key: str
    topic: Topic
    granted: bool
    at: dt.datetime
    source: str
    proof: str
    reference: str


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    return None


def _timestamp(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    """An ISO date or timestamp; without an offset it is in the workspace's time zone."""
    text = str(value).strip().replace(" ", "T", 1) if value is not None else ""
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            parsed = dt.datetime.combine(day, dt.time()) if day else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=tz)


class TopicFinder:
    """The workspace's topics, loaded once: by (key, channel), and by key alone when the
    key is on one channel only."""

    def __init__(self, workspace):
        self.by_pair: dict[tuple[str, str], Topic] = {}
        self.channels: dict[str, list[str]] = {}
        for topic in Topic.objects.filter(workspace=workspace):
            self.by_pair[(topic.key, topic.channel)] = topic
            self.channels.setdefault(topic.key, []).append(topic.channel)

    def find(self, key: str, channel: str) -> tuple[Topic | None, str, str]:
        """(topic, field, why) — the topic, or the field at fault and why."""
        if channel:
            topic = self.by_pair.get((key, channel))
            if topic is not None:
                return topic, "", ""
            if key in self.channels:
                return None, "channel", (f"topic {key!r} is not on {channel!r}; it is on "
                                         f"{', '.join(sorted(self.channels[key]))}")
            return None, "topic", f"unknown topic {key!r}"
        channels = self.channels.get(key, [])
        if len(channels) == 1:
            return self.by_pair[(key, channels[0])], "", ""
        if channels:
            return None, "channel", (f"topic {key!r} is on several channels ({', '.join(sorted(channels))}): "
                                     "give the channel")
        return None, "topic", f"unknown topic {key!r}"


def _validate(workspace, records: Iterable[tuple[int, dict[str, Any]]], report: ImportReport,
              reference: str) -> list[_Good]:
    topics = TopicFinder(workspace)
    tz = zoneinfo.ZoneInfo(getattr(workspace, "time_zone", "") or "UTC")
    now = timezone.now()
    latest = now + FUTURE_SKEW
    good: list[_Good] = []
    for row, record in records:
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ImportError_([{"row": row, "field": "", "value": "",
                                 "reason": f"more than {MAX_ROWS} rows: split the file"}])
        if "__width__" in record:
            report.problem(row, "", "", f"the row has {record['__width__']} fields, not as many as the header")
            continue
        if "__type__" in record:
            report.problem(row, "", record["__type__"], "not an object of field: value")
            continue
        before = report.error_count
        for name in record:
            if name not in COLUMNS:
                report.problem(row, name, "", f"unknown field; the fields are {', '.join(COLUMNS)}")
        key = str(record.get("profile_key") if record.get("profile_key") is not None else "").strip()
        if not key:
            report.problem(row, "profile_key", key, "the profile key is empty")
        elif len(key) > PROFILE_KEY_MAX:
            report.problem(row, "profile_key", key, f"longer than {PROFILE_KEY_MAX} characters")
        topic_key = str(record.get("topic") or "").strip()
        channel = str(record.get("channel") or "").strip().lower()
        topic = None
        if not topic_key:
            report.problem(row, "topic", topic_key, "the topic is empty")
        else:
            topic, field_name, why = topics.find(topic_key, channel)
            if topic is None:
                report.problem(row, field_name, channel if field_name == "channel" else topic_key, why)
        granted = _boolean(record.get("granted"))
        if granted is None:
            report.problem(row, "granted", record.get("granted"),
                           "not a yes/no value (true, false, yes, no, 1 or 0)")
        raw_at = record.get("at")
        at = now
        if raw_at not in (None, ""):
            parsed = _timestamp(raw_at, tz)
            if parsed is None:
                report.problem(row, "at", raw_at, "not an ISO date or timestamp (2024-05-01T09:30:00+02:00)")
            elif parsed > latest:
                report.problem(row, "at", raw_at, "in the future")
            else:
                at = parsed
        source = str(record.get("source") or "").strip() or Source.IMPORT
        if source not in IMPORT_SOURCES:
            report.problem(row, "source", source, f"one of {', '.join(IMPORT_SOURCES)}")
        proof = str(record.get("proof") or "")
        if len(proof) > PROOF_MAX:
            report.problem(row, "proof", proof[:50], f"longer than {PROOF_MAX} characters")
        if report.error_count == before:
            good.append(_Good(profile_key=key, topic=topic, granted=granted, at=at, source=source, proof=proof,
                              reference=f"{reference} row {row}"[:300] if reference else f"row {row}"))
    return good


EVENT = ConsentEvent._meta.db_table
STATE = ConsentState._meta.db_table

# One statement: the events, then each (topic, profile)'s newest imported answer onto the
# current state where it is newer than the one there (ties: the later event wins, as in
# consent_record).
WRITE = sql.SQL("""
WITH rows AS (
    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::boolean[], %s::text[], %s::timestamptz[],
                         %s::text[], %s::text[], %s::int[])
        AS r(profile_key, topic_id, channel, granted, source, at, reference, proof, ord)
), events AS (
    INSERT INTO {event} (workspace_id, profile_key, topic_id, channel, granted, source, actor_id, actor_label,
                         at, recorded_at, ip_address, reference, proof)
    SELECT %s, profile_key, topic_id, channel, granted, source, %s, %s, at, now(), NULL, reference, proof
    FROM rows ORDER BY ord
    RETURNING id, topic_id, profile_key, granted, at
)
INSERT INTO {state} AS s (workspace_id, topic_id, profile_key, granted, at, event_id)
SELECT DISTINCT ON (topic_id, profile_key) %s, topic_id, profile_key, granted, at, id
FROM events ORDER BY topic_id, profile_key, at DESC, id DESC
ON CONFLICT (topic_id, profile_key) DO UPDATE SET
    granted = EXCLUDED.granted, at = EXCLUDED.at, event_id = EXCLUDED.event_id
WHERE s.at <= EXCLUDED.at
""").format(event=sql.Identifier(EVENT), state=sql.Identifier(STATE))


def _write(workspace, actor: Any, good: list[_Good]) -> int:
    user = actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None
    label = str(actor or "import")[:200]
    columns: list[list[Any]] = [[], [], [], [], [], [], [], [], []]
    for index, g in enumerate(good):
        for column, value in zip(columns, (g.profile_key, g.topic.pk, g.topic.channel, g.granted, g.source, g.at,
                                           g.reference, g.proof, index), strict=True):
            column.append(value)
    return execute(WRITE, [*columns, workspace.pk, user.pk if user else None, label, workspace.pk])


def consent_import(*, workspace, actor: Any, records: Iterable[tuple[int, dict[str, Any]]], mode: str = "reject",
                   max_errors: int = DEFAULT_MAX_ERRORS, reference: str = "", ip_address: str | None = None,
                   ) -> ImportReport:
    """Import (row number, record) pairs; see the module's docstring for the rules."""
    if mode not in MODES:
        raise ImportError_([{"row": 0, "field": "mode", "value": mode, "reason": "one of reject, skip"}])
    report = ImportReport(mode=mode)
    good = _validate(workspace, records, report, reference)
    if report.error_count and (mode == "reject" or report.error_count > max_errors):
        report.status = "rejected"
        report.message = (f"{report.error_count} bad rows: nothing was imported (reject mode)." if mode == "reject"
                          else f"{report.error_count} bad rows exceed the limit of {max_errors}: nothing was "
                               "imported.")
        return report
    report.skipped = report.rows - len(good)
    with transaction.atomic():
        if good:
            report.states_changed = _write(workspace, actor, good)
        report.imported = len(good)
        report.granted = sum(1 for g in good if g.granted)
        report.withdrawn = report.imported - report.granted
        audit_record(workspace=workspace, actor=actor, verb="consent.imported", target=None, ip_address=ip_address,
                     data={"reference": reference, "mode": mode, "rows": report.rows, "imported": report.imported,
                           "granted": report.granted, "withdrawn": report.withdrawn, "skipped": report.skipped,
                           "states_changed": report.states_changed})
    report.message = f"{report.imported} consents imported" + (f", {report.skipped} bad rows skipped." if
                                                                report.skipped else ".")
    return report


def csv_records(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) of each data row; the header is checked first. Row 1 is the
    first line after the header (the file's line 2)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportError_([{"row": 0, "field": "", "value": "", "reason": "the file is not UTF-8 text"}]) from None
    if "\x00" in text:
        raise ImportError_([{"row": 0, "field": "", "value": "", "reason": "the file is not a CSV text file"}])
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ImportError_([{"row": 0, "field": "", "value": "", "reason": "the file is empty"}])
    names = [h.strip().lower() for h in header]
    problems = []
    for name in names:
        if name not in COLUMNS:
            problems.append({"row": 0, "field": name, "value": name,
                             "reason": f"unknown column; the columns are {', '.join(COLUMNS)}"})
        elif names.count(name) > 1:
            problems.append({"row": 0, "field": name, "value": name, "reason": "the column appears twice"})
    for name in REQUIRED:
        if name not in names:
            problems.append({"row": 0, "field": name, "value": "", "reason": "required column missing"})
    if problems:
        unique = list({(p["field"], p["reason"]): p for p in problems}.values())
        raise ImportError_(unique)
    return _rows(reader, names)


def _rows(reader, names: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    width = len(names)
    for row, values in enumerate(reader, start=1):
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # blank line
        if len(values) != width:
            yield row, {"__width__": len(values)}
            continue
        yield row, dict(zip(names, values, strict=True))


def json_records(items: list[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for row, item in enumerate(items, start=1):
        yield row, item if isinstance(item, dict) else {"__type__": type(item).__name__}
