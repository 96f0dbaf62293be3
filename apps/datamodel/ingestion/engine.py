"""The ingestion pipeline. PostgreSQL parses, validates and merges; Python only streams
bytes (and, when a file is malformed, splits it into rows).

Three ways in, one way out:
- **direct**: an empty table and a plain file: COPY straight into the entity's table,
  whose NOT NULL and CHECK constraints validate every value. Any error rolls back to a
  savepoint and the file goes the staged way, which reports every error.
- **staged**: COPY into a typed temporary table (PostgreSQL's C parser does the type
  conversion), one SQL scan records the remaining bad values with their line, then the
  valid rows are merged: UPDATE of changed rows, INSERT of new ones, DELETE of `_change=d`.
- **robust**: when COPY itself fails (a ragged row, bad encoding, a value of the wrong
  type), Python's csv reader splits the file into rows, the shape errors are recorded, the
  rest is staged as text and validated with pg_input_is_valid(), then merged as above.

Everything happens in the caller's transaction: in reject mode (or past max_errors)
nothing is written. Memory stays flat: files are streamed in chunks and errors are kept
in a temporary table (only the first ones are returned)."""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from typing import IO, Any

import psycopg
from django.db import transaction
from psycopg import sql

from apps.core.inputs import has_surrogate

from .. import ddl
from ..locks import entity_write_lock
from ..models import Entity
from . import sqlparts as q
from .base import INGEST_WORK_MEM, Options, Progress, Report, _CopyFailed, _exec, _raw
from .header import (
    CHANGE_COLUMN,
    Column,
    HeaderError,
    Layout,
    plan_columns,
    read_header,
    resolve_encoding,
)
from .load import (
    _create_work_tables,
    _robust,
    _rows_from_csv,
    _staged,
    _try_direct,
    _typed_from_text,
)
from .merge import (
    _collect_errors,
    _count_orphans,
    _decide,
    _keep_rejected,
    _merge,
    _rejected_csv,
    _validate,
    formula_safe,
)


@contextlib.contextmanager
def _session(cur, entity: Entity) -> Iterator[None]:
    """Naive datetimes in a file are in the workspace's time zone; dates are ISO unless a
    column says otherwise. The settings are restored afterwards: Django reads timestamps
    on this connection assuming UTC. Entity writers are serialized: two loads into one
    table at once would race between the UPDATE and the INSERT of new keys."""
    cur.execute("SELECT current_setting('TimeZone'), current_setting('DateStyle'), current_setting('work_mem')")
    saved = cur.fetchone()
    cur.execute("SELECT set_config('TimeZone', %s, true), set_config('DateStyle', 'ISO, YMD', true), "
                "set_config('work_mem', %s, true)", [entity.workspace.time_zone, INGEST_WORK_MEM])
    entity_write_lock(entity)
    try:
        yield
    finally:
        if not cur.closed and cur.connection.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            cur.execute("SELECT set_config('TimeZone', %s, true), set_config('DateStyle', %s, true), "
                        "set_config('work_mem', %s, true)", list(saved))


# --- entry points -----------------------------------------------------------------------------------

def ingest_csv(*, entity: Entity, stream: IO[bytes], options: Options, progress: Progress | None = None,
               size: int = 0) -> Report:
    """Load a CSV stream (binary, seekable) into the entity's table, in a transaction of
    its own or as part of the caller's; raises HeaderError for problems with the file as
    a whole."""
    with transaction.atomic():
        return _ingest_csv(entity=entity, stream=stream, options=options, progress=progress, size=size)


def _ingest_csv(*, entity: Entity, stream: IO[bytes], options: Options, progress: Progress | None,
                size: int) -> Report:
    codec, pg_encoding = resolve_encoding(options.encoding)
    if options.delimiter not in {",", ";", "\t", "|"}:
        raise HeaderError([{"line": 1, "column": "", "value": options.delimiter,
                            "reason": "The delimiter must be one of , ; | or a tab."}])
    head = stream.read(1 << 20)
    stream.seek(0)
    headers, bom = read_header(head, encoding=options.encoding, delimiter=options.delimiter)
    columns = plan_columns(entity, headers, mapping=options.mapping, date_formats=options.date_formats,
                           delimiter=options.delimiter)
    layout = Layout(columns=columns, encoding=codec, pg_encoding=pg_encoding, delimiter=options.delimiter, bom=bom)
    report = Report()
    report.lap("start")
    raw = _raw()
    with raw.cursor() as cur, _session(cur, entity):
        direct = _try_direct(cur, entity, layout, stream, progress, report)
        report.lap("direct")
        if direct is not None:
            report.path = "direct"
            report.rows_seen = report.inserted = direct
            if direct == 0:
                return _header_only()
            report.orphans = _count_orphans(cur, entity, layout, source=ddl.table(entity),
                                            column_of=lambda c: ddl.column(c.attribute))
            return report
        stream.seek(0)
        _create_work_tables(cur, layout)
        try:
            report.rows_seen = _staged(cur, layout, stream, progress)
            report.path = "staged"
            report.lap("copy")
            if report.rows_seen == 0:
                return _header_only()
            _validate(cur, layout, q.STAGE, text_stage=False)
            report.lap("validate")
            _keep_rejected(cur, layout, q.STAGE)
            _exec(cur, sql.SQL("DELETE FROM {stage} WHERE {line} IN (SELECT rec FROM {errors})").format(
                stage=q.STAGE, line=q.LINE, errors=q.ERRORS))
        except _CopyFailed:
            stream.seek(0)
            report.path = "robust"
            tick = (lambda: progress("checking", stream.tell())) if progress else None
            report.rows_seen, shape_errors = _robust(cur, layout, _rows_from_csv(stream, layout), tick)
            if report.rows_seen == 0:
                return _header_only()
            _store_shape_errors(cur, shape_errors)
            _validate(cur, layout, q.TEXT_STAGE, text_stage=True)
            _keep_rejected(cur, layout, q.TEXT_STAGE)
            _typed_from_text(cur, layout)
        _collect_errors(cur, report, layout, record_keys=False)
        if report.rejected:
            report.rejected_csv = _rejected_csv(cur, layout, record_keys=False)
        if progress:
            progress("merging", size)
        report.lap("errors")
        if _decide(report, options):
            _merge(cur, entity, layout, report)
            report.orphans = _count_orphans(cur, entity, layout, source=q.STAGE, column_of=q.col)
            report.lap("orphans")
    return report


def _header_only() -> Report:
    return Report(status="rejected", message="The file has a header but no data rows.")


def _store_shape_errors(cur, shape_errors) -> None:
    if not shape_errors:
        return
    cur.executemany(sql.SQL("INSERT INTO {} (rec, col, value, reason) VALUES (%s, %s, %s, %s)").format(q.ERRORS),
                    [(rec, col, value, reason) for rec, col, value, reason, _ in shape_errors])
    cur.executemany(sql.SQL("INSERT INTO {} (rec, fields) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(q.REJECTED),
                    [(rec, [str(f) for f in row] if row else None) for rec, _, _, _, row in shape_errors])


def ingest_records(*, entity: Entity, records: list[Any], options: Options) -> Report:
    """Load a JSON batch (see _ingest_records), in a transaction of its own or the caller's."""
    with transaction.atomic():
        return _ingest_records(entity=entity, records=records, options=options)


def _ingest_records(*, entity: Entity, records: list[Any], options: Options) -> Report:
    """Load a JSON batch: a list of objects keyed by attribute, each with an optional
    `_change` of upsert or delete (CDC feeds send it on some records only). The upserts
    of a batch carry the same keys; a delete needs only the primary key."""
    if not isinstance(records, list) or not records:
        raise HeaderError([{"record": 0, "column": "", "value": None,
                            "reason": "Send a non-empty list of records."}])
    objects = [r for r in records if isinstance(r, dict)]
    if any("\x00" in key for r in objects for key in r):  # PostgreSQL text cannot hold NUL
        raise HeaderError([{"record": None, "column": "", "value": None,
                            "reason": "A key cannot contain a NUL character."}])
    if any(has_surrogate(key) for r in objects for key in r):  # not valid Unicode: psycopg cannot send it
        raise HeaderError([{"record": None, "column": "", "value": None,
                            "reason": "A key cannot contain a lone surrogate (invalid Unicode)."}])
    upserts = [r for r in objects if not _is_delete(r)]
    shape = upserts[0] if upserts else (objects[0] if objects else {})
    keys = [k for k in shape if k != CHANGE_COLUMN]
    if any(CHANGE_COLUMN in r for r in objects):
        keys.append(CHANGE_COLUMN)
    columns = plan_columns(entity, keys, mapping=None, date_formats=options.date_formats, delimiter=",",
                           deletes_only=not upserts)
    layout = Layout(columns=columns, encoding="utf-8", pg_encoding="UTF8", delimiter=",")
    data_keys = {k for k in keys if k != CHANGE_COLUMN}
    pk_key = layout.pk.header

    def rows() -> Iterator[tuple[int, list | None, str | None]]:
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                yield index, None, "each record must be an object"
                continue
            present = set(record) - {CHANGE_COLUMN}
            extra = sorted(present - data_keys)
            if _is_delete(record):
                missing = [] if pk_key in present else [pk_key]
            else:
                missing = sorted(data_keys - present)
            if missing or extra:
                detail = "; ".join(p for p in (missing and f"missing {', '.join(missing)}",
                                               extra and f"extra {', '.join(extra)}") if p)
                what = "a delete needs the primary key and no keys the upserts lack" if _is_delete(record) \
                    else "all upserts of a batch must have the same keys as the first"
                yield index, None, f"{what} ({detail})"
                continue
            values = []
            bad = None
            for key in keys:
                value = record.get(key)
                if isinstance(value, (dict, list)):
                    bad = f"{key}: nested values are not supported"
                    break
                if isinstance(value, str) and "\x00" in value:
                    bad = f"{key}: a value cannot contain a NUL character"
                    break
                if isinstance(value, str) and has_surrogate(value):
                    bad = f"{key}: a value cannot contain a lone surrogate (invalid Unicode)"
                    break
                values.append(_json_text(value))
            yield (index, None, bad) if bad else (index, values, None)

    report = Report(path="json")
    raw = _raw()
    with raw.cursor() as cur, _session(cur, entity):
        _create_work_tables(cur, layout)
        _, shape_errors = _robust(cur, layout, rows(), None)
        report.rows_seen = len(records)
        _store_shape_errors(cur, shape_errors)
        _validate(cur, layout, q.TEXT_STAGE, text_stage=True)
        _keep_rejected(cur, layout, q.TEXT_STAGE)
        _typed_from_text(cur, layout)
        _collect_errors(cur, report, layout, record_keys=True)
        if _decide(report, options):
            _merge(cur, entity, layout, report)
            report.orphans = _count_orphans(cur, entity, layout, source=q.STAGE, column_of=q.col)
    return report


def _is_delete(record: Any) -> bool:
    change = record.get(CHANGE_COLUMN) if isinstance(record, dict) else None
    return isinstance(change, str) and change.strip().lower() in q.DELETE_WORDS


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["Options", "Report", "HeaderError", "ingest_csv", "ingest_records", "formula_safe", "Column", "codecs"]

