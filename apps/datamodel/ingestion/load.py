"""The three ways a file gets into PostgreSQL: direct (into the empty table), staged
(typed COPY) and robust (Python splits a malformed file into rows)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

import psycopg
from psycopg import sql

from .. import ddl
from ..models import Entity
from . import sqlparts as q
from .base import (
    CHUNK_BYTES,
    MAX_FIELD_CHARS,
    PROGRESS_EVERY_BYTES,
    SURROGATES,
    Progress,
    Report,
    _CopyFailed,
    _exec,
    _scalar,
)
from .header import (
    Layout,
)

# --- reading ------------------------------------------------------------------------------

# A line holding only \. ends COPY's data, in CSV too unless it is inside quotes: the rows
# after it would be dropped without an error. A file holding one takes the robust way,
# where each row is sent escaped (COPY text format) and the marker is just a value.
END_MARKER = re.compile(rb"[\r\n]\\\.[\r\n]")


def _chunks(stream: IO[bytes], skip: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    reported = 0
    first = True
    tail = b"\n"  # the data begins at the start of a line
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        done += len(chunk)
        if first:
            chunk = chunk[skip:]
            first = False
        window = tail + chunk
        if b"\\." in window and END_MARKER.search(window):
            raise _CopyFailed("a line holds only \\. (COPY's end-of-data marker)")
        tail = window[-3:]
        if progress and done - reported >= PROGRESS_EVERY_BYTES:
            progress("loading", done)
            reported = done
        yield chunk
    if progress:
        progress("loading", done)


def _copy_options(layout: Layout, columns: list[sql.Identifier]) -> sql.Composable:
    return sql.SQL("FORMAT csv, HEADER true, DELIMITER {d}, ENCODING {e}, FORCE_NULL ({cols})").format(
        d=sql.Literal(layout.delimiter), e=sql.Literal(layout.pg_encoding), cols=sql.SQL(", ").join(columns))


def _copy_stream(cur, target: sql.Composable, columns: list[sql.Identifier], layout: Layout,
                 stream: IO[bytes], progress: Progress | None) -> int:
    query = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(target, sql.SQL(", ").join(columns),
                                                          _copy_options(layout, columns))
    with cur.copy(query) as copy:
        for chunk in _chunks(stream, layout.bom, progress):
            copy.write(chunk)
    return cur.rowcount


# --- the three ways in ----------------------------------------------------------------------

@dataclass
class _Indexes:
    primary: tuple[str, str] | None  # (constraint name, definition)
    others: list[tuple[str, str]]  # (index name, CREATE INDEX statement)


def _drop_indexes(cur, entity: Entity) -> _Indexes:
    """Drop the table's indexes for a bulk write; the definitions come from the catalog.
    (This takes the table's exclusive lock until commit: readers wait for the load.)"""
    schema, name = ddl.workspace_schema(entity.workspace_id), entity.key
    cur.execute("SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE n.nspname = %s AND t.relname = %s AND c.contype = 'p'", [schema, name])
    primary = cur.fetchone()
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s "
                "AND indexname <> %s", [schema, name, primary[0] if primary else ""])
    saved = _Indexes(primary=primary, others=cur.fetchall())
    for index_name, _ in saved.others:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, index_name)))
    if primary:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(ddl.table(entity), sql.Identifier(primary[0])))
    return saved


def _restore_indexes(cur, entity: Entity, saved: _Indexes) -> None:
    """Rebuild by sorting: faster than maintaining the indexes row by row."""
    if saved.primary:  # fails on a duplicate key
        cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            ddl.table(entity), sql.Identifier(saved.primary[0]), sql.SQL(saved.primary[1])))
    for _, definition in saved.others:
        cur.execute(definition)


def _try_direct(cur, entity: Entity, layout: Layout, stream: IO[bytes], progress: Progress | None,
                report: Report) -> int | None:
    """COPY into the (empty) table itself, the way bulk loads are done: indexes dropped,
    rows copied, values checked in one scan, indexes rebuilt by sorting. None when
    anything fails: everything is rolled back and nothing was kept."""
    if layout.change or any(c.attribute is None or c.date_format for c in layout.columns):
        return None
    table = ddl.table(entity)
    if _scalar(cur, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table)):
        return None
    cur.execute("SAVEPOINT ingest_direct")
    try:
        saved = _drop_indexes(cur, entity)
        report.lap("drop-indexes")
        rows = _copy_stream(cur, table, [ddl.column(c.attribute) for c in layout.columns], layout, stream, progress)
        report.lap("copy")
        if progress:
            progress("checking", 0)
        check = q.any_bad(table, layout.columns)
        if check is not None and _scalar(cur, check):
            raise _CopyFailed("a value breaks a rule")
        report.lap("check")
        if progress:
            progress("indexing", 0)
        _restore_indexes(cur, entity, saved)  # a duplicate key fails here: the staged way keeps the last row
        report.lap("index")
    except (psycopg.Error, _CopyFailed):
        cur.execute("ROLLBACK TO SAVEPOINT ingest_direct")
        return None
    cur.execute("RELEASE SAVEPOINT ingest_direct")
    return rows


def _create_work_tables(cur, layout: Layout) -> None:
    # Another load may have run earlier in the same transaction (ON COMMIT DROP has not
    # fired yet): start clean.
    _exec(cur, sql.SQL("DROP TABLE IF EXISTS {}, {}, {}, {}").format(q.ERRORS, q.REJECTED, q.STAGE, q.TEXT_STAGE))
    _exec(cur, sql.SQL(
        "CREATE TEMP TABLE {errors} (rec bigint NOT NULL, col text NOT NULL, value text, reason text NOT NULL) "
        "ON COMMIT DROP").format(errors=q.ERRORS))
    _exec(cur, sql.SQL("CREATE TEMP TABLE {} (rec bigint PRIMARY KEY, fields text[]) ON COMMIT DROP").format(
        q.REJECTED))


def _staged(cur, layout: Layout, stream: IO[bytes], progress: Progress | None) -> int:
    """COPY into a typed temp table; raises _CopyFailed when COPY itself rejects the file."""
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(q.col(c), q.staged_type(c)) for c in layout.columns)
    cur.execute("SAVEPOINT ingest_staged")
    _exec(cur, sql.SQL("CREATE TEMP TABLE {} ({} bigint GENERATED ALWAYS AS IDENTITY, {}) ON COMMIT DROP").format(
        q.STAGE, q.LINE, cols))
    try:
        rows = _copy_stream(cur, q.STAGE, [q.col(c) for c in layout.columns], layout, stream, progress)
    except (psycopg.Error, _CopyFailed) as exc:
        cur.execute("ROLLBACK TO SAVEPOINT ingest_staged")
        raise _CopyFailed(str(exc)) from exc
    cur.execute("RELEASE SAVEPOINT ingest_staged")
    return rows


def _rows_from_csv(stream: IO[bytes], layout: Layout) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(record number, fields, shape error). Record 1 is the first row after the header."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    stream.seek(layout.bom)
    text = io.TextIOWrapper(stream, encoding=layout.encoding, errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=layout.delimiter)
    width = len(layout.columns)
    try:
        next(reader)
    except (StopIteration, csv.Error):
        return
    rec = 0
    while True:
        rec += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield rec, None, f"the row cannot be read as CSV ({exc})"
            continue
        if not row:  # a blank line
            rec -= 1
            continue
        if len(row) != width:
            yield rec, row, f"the row has {len(row)} fields; the header has {width}"
            continue
        if SURROGATES.search("".join(row)):
            yield rec, [SURROGATES.sub("\ufffd", f) for f in row], \
                f"the row is not valid {layout.encoding} text; choose the file's encoding (e.g. Latin-1)"
            continue
        yield rec, row, None
    text.detach()


def _robust(cur, layout: Layout, rows: Iterable[tuple[int, list | None, str | None]],
            tick: Callable[[], None] | None) -> tuple[int, list[tuple[int, str, str | None, str, list | None]]]:
    """Stage every well-shaped row as text; return (rows seen, shape errors)."""
    names = [q.col(c) for c in layout.columns]
    _exec(cur, sql.SQL("CREATE TEMP TABLE {} ({} bigint PRIMARY KEY, {}) ON COMMIT DROP").format(
        q.TEXT_STAGE, q.LINE, sql.SQL(", ").join(sql.SQL("{} text").format(n) for n in names)))
    shape_errors: list[tuple[int, str, str | None, str, list | None]] = []
    seen = 0
    with cur.copy(sql.SQL("COPY {} ({}, {}) FROM STDIN").format(q.TEXT_STAGE, q.LINE, sql.SQL(", ").join(names))) as copy:
        for rec, row, error in rows:
            seen = rec
            if error is not None:
                shape_errors.append((rec, "", None, error, row))
                continue
            copy.write_row([rec, *[v if v != "" else None for v in row]])
            if tick and rec % 50_000 == 0:
                tick()
    return seen, shape_errors


def _typed_from_text(cur, layout: Layout) -> None:
    """The typed stage, from the text stage's rows that passed validation."""
    exprs = []
    for c in layout.columns:
        if c.attribute is None or c.date_format:
            exprs.append(sql.SQL("{}").format(q.col(c)))
        else:
            exprs.append(sql.SQL("{}::{} AS {}").format(q.col(c), ddl.sql_type(c.attribute.type), q.col(c)))
    _exec(cur, sql.SQL(
        "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT t.{line}, {exprs} FROM {text} t "
        "WHERE NOT EXISTS (SELECT 1 FROM {errors} e WHERE e.rec = t.{line})").format(
        stage=q.STAGE, line=q.LINE, exprs=sql.SQL(", ").join(exprs), text=q.TEXT_STAGE, errors=q.ERRORS))


