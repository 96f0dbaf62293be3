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
import csv
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from django.db import connection, transaction
from psycopg import sql

from .. import ddl
from ..models import Entity, Relationship
from . import sqlparts as q
from .header import (
    CHANGE_COLUMN,
    Column,
    HeaderError,
    Layout,
    plan_columns,
    read_header,
    resolve_encoding,
)

CHUNK_BYTES = 1 << 20  # 1 MiB per write: big enough for COPY throughput, small for memory
PROGRESS_EVERY_BYTES = 8 << 20
# The merge joins the whole stage to the table: with this much memory a million-row hash
# join stays in memory instead of spilling to disk in batches.
INGEST_WORK_MEM = "512MB"
# A load that writes at least this share of a table's rows rebuilds its indexes afterwards
# instead of maintaining them row by row (measured: a million-row update 20% faster).
BULK_SHARE = 0.2
MAX_REPORTED_ERRORS = 1000  # details kept in the report; all are counted
MAX_REJECTED_FILE_ROWS = 100_000
MAX_FIELD_CHARS = 10 << 20  # the csv module's own limit; longer values fail the row
SURROGATES = re.compile("[\udc80-\udcff]")

Progress = Callable[[str, int], None]


@dataclass
class Options:
    mode: str = "reject"  # reject | skip
    max_errors: int = 100
    delimiter: str = ","
    encoding: str = "utf-8"
    mapping: dict[str, str | None] | None = None
    date_formats: dict[str, str] | None = None


@dataclass
class Report:
    status: str = "done"  # done | rejected
    path: str = ""  # direct | staged | robust | json
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    orphans: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    rejected_csv: bytes = b""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for benchmarks

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = round(now - self.timings.pop("_t", now), 4)
        self.timings["_t"] = now

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("rejected_csv", "timings")}
        out["timings"] = {k: v for k, v in self.timings.items() if not k.startswith("_")}
        return out


class _CopyFailed(Exception):
    pass


def _raw():
    connection.ensure_connection()
    return connection.connection


def _exec(cur, query: sql.Composable | str, params: Any = None) -> int:
    cur.execute(query, params)
    return cur.rowcount


def _scalar(cur, query: sql.Composable | str, params: Any = None) -> Any:
    cur.execute(query, params)
    row = cur.fetchone()
    return row[0] if row else None


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
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x0DA7A, entity.pk])
    try:
        yield
    finally:
        if not cur.closed and cur.connection.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            cur.execute("SELECT set_config('TimeZone', %s, true), set_config('DateStyle', %s, true), "
                        "set_config('work_mem', %s, true)", list(saved))


# --- reading ------------------------------------------------------------------------------

def _chunks(stream: IO[bytes], skip: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    reported = 0
    first = True
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        done += len(chunk)
        if first:
            chunk = chunk[skip:]
            first = False
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
    except psycopg.Error as exc:
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


# --- validation, merge, report ----------------------------------------------------------------

def _validate(cur, layout: Layout, stage: sql.Identifier, *, text_stage: bool) -> None:
    query = q.insert_errors(stage, layout.columns, text_stage=text_stage)
    if query is not None:
        _exec(cur, query)


def _keep_rejected(cur, layout: Layout, stage: sql.Identifier) -> None:
    fields = sql.SQL(", ").join(sql.SQL("{}::text").format(q.col(c)) for c in layout.columns)
    _exec(cur, sql.SQL(
        "INSERT INTO {rej} (rec, fields) SELECT s.{line}, ARRAY[{fields}] FROM {stage} s "
        "WHERE s.{line} IN (SELECT rec FROM {errors}) ON CONFLICT DO NOTHING").format(
        rej=q.REJECTED, line=q.LINE, fields=fields, stage=stage, errors=q.ERRORS))


def _merge(cur, entity: Entity, layout: Layout, report: Report) -> None:
    pk = q.col(layout.pk)
    table = ddl.table(entity)
    pk_col = ddl.column(layout.pk.attribute)
    # Duplicate keys in one file: the last row wins.
    report.duplicates = _exec(cur, sql.SQL(
        "DELETE FROM {stage} s USING (SELECT {line} FROM (SELECT {line}, row_number() OVER "
        "(PARTITION BY {pk} ORDER BY {line} DESC) AS n FROM {stage}) x WHERE n > 1) d WHERE s.{line} = d.{line}"
    ).format(stage=q.STAGE, line=q.LINE, pk=pk)) if _scalar(cur, sql.SQL(
        "SELECT count(*) > count(DISTINCT {pk}) FROM {stage}").format(pk=pk, stage=q.STAGE)) else 0
    report.lap("dedupe")
    change = layout.change
    if change is not None:
        is_delete = sql.SQL("lower(btrim({})) = ANY({})").format(q.col(change), sql.Literal(list(q.DELETE_WORDS)))
        report.deleted = _exec(cur, sql.SQL(
            "DELETE FROM {table} t USING {stage} s WHERE {is_delete} AND t.{pk_col} = s.{pk}").format(
            table=table, stage=q.STAGE, is_delete=is_delete, pk_col=pk_col, pk=pk))
        _exec(cur, sql.SQL("DELETE FROM {stage} WHERE {is_delete}").format(stage=q.STAGE, is_delete=is_delete))
    data_cols = [c for c in layout.mapped]
    upserts = _scalar(cur, sql.SQL("SELECT count(*) FROM {}").format(q.STAGE))
    if not upserts:
        return
    target_cols = sql.SQL(", ").join(ddl.column(c.attribute) for c in data_cols)
    values = sql.SQL(", ").join(q.typed_value(c, sql.SQL("s.{}").format(q.col(c))) for c in data_cols)
    non_key = [c for c in data_cols if not c.attribute.is_primary_key]
    table_empty = not _scalar(cur, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table))
    # Writing a large share of the table: maintaining its indexes row by row costs more than
    # dropping them and sorting them back afterwards.
    saved = None
    if not table_empty and upserts >= BULK_SHARE * max(_estimated_rows(cur, entity), 1):
        saved = _drop_indexes(cur, entity)
        report.lap("drop-indexes")
    if not table_empty and non_key:
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(ddl.column(c.attribute), q.typed_value(c, sql.SQL("s.{}").format(q.col(c))))
            for c in non_key)
        old = sql.SQL(", ").join(sql.SQL("t.{}").format(ddl.column(c.attribute)) for c in non_key)
        new = sql.SQL(", ").join(q.typed_value(c, sql.SQL("s.{}").format(q.col(c))) for c in non_key)
        # Unchanged rows are left alone, so _updated_at keeps meaning "really changed".
        report.updated = _exec(cur, sql.SQL(
            "UPDATE {table} t SET {sets}, {updated} = now() FROM {stage} s "
            "WHERE t.{pk_col} = s.{pk} AND ROW({old}) IS DISTINCT FROM ROW({new})").format(
            table=table, sets=sets, updated=sql.Identifier(ddl.UPDATED_AT), stage=q.STAGE, pk_col=pk_col,
            pk=pk, old=old, new=new))
        report.lap("update")
    if table_empty:
        report.inserted = _exec(cur, sql.SQL("INSERT INTO {table} ({cols}) SELECT {values} FROM {stage} s").format(
            table=table, cols=target_cols, values=values, stage=q.STAGE))
    else:
        report.inserted = _exec(cur, sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {values} FROM {stage} s "
            "WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{pk_col} = s.{pk})").format(
            table=table, cols=target_cols, values=values, stage=q.STAGE, pk_col=pk_col, pk=pk))
    report.unchanged = upserts - report.inserted - report.updated
    report.lap("insert")
    if saved is not None:
        _restore_indexes(cur, entity, saved)
        report.lap("index")


def _estimated_rows(cur, entity: Entity) -> int:
    """The planner's row estimate of the table (a count when it was never analyzed)."""
    estimate = _scalar(cur, "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = %s AND c.relname = %s",
                       [ddl.workspace_schema(entity.workspace_id), entity.key])
    if estimate is None or estimate < 0:
        estimate = _scalar(cur, sql.SQL("SELECT count(*) FROM {}").format(ddl.table(entity)))
    return int(estimate)


def _count_orphans(cur, entity: Entity, layout: Layout, *, source: sql.Composable, column_of) -> int:
    """Loaded rows with a link value that has no parent (loaded, but counted): one count,
    a row missing several parents counts once."""
    by_attr = {c.attribute.pk: c for c in layout.mapped}
    missing = []
    for rel in Relationship.objects.filter(source=entity).select_related("target", "attribute"):
        column = by_attr.get(rel.attribute_id)
        if column is None:
            continue
        target_pk = rel.target.attributes.get(is_primary_key=True)
        missing.append(sql.SQL("(s.{fk} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{ppk} = s.{fk}))")
                       .format(fk=column_of(column), parent=ddl.table(rel.target), ppk=ddl.column(target_pk)))
    if not missing:
        return 0
    return _scalar(cur, sql.SQL("SELECT count(*) FROM {} s WHERE {}").format(source, sql.SQL(" OR ").join(missing)))


def _collect_errors(cur, report: Report, layout: Layout, *, record_keys: bool) -> None:
    report.error_count = _scalar(cur, sql.SQL("SELECT count(*) FROM {}").format(q.ERRORS))
    report.rejected = _scalar(cur, sql.SQL("SELECT count(DISTINCT rec) FROM {}").format(q.ERRORS))
    cur.execute(sql.SQL("SELECT rec, col, value, reason FROM {} ORDER BY rec, col LIMIT %s").format(q.ERRORS),
                [MAX_REPORTED_ERRORS])
    where = "record" if record_keys else "line"
    offset = 0 if record_keys else 1
    report.errors = [{where: rec + offset, "column": col, "value": value, "reason": reason}
                     for rec, col, value, reason in cur.fetchall()]


def _rejected_csv(cur, layout: Layout, *, record_keys: bool) -> bytes:
    """The rejected rows as CSV: where, why, then the row as it was (formula-safe)."""
    cur.execute(sql.SQL(
        "SELECT r.rec, (SELECT string_agg(CASE WHEN e.col = '' THEN e.reason ELSE e.col || ': ' || e.reason END, '; ' "
        "ORDER BY e.col) FROM {errors} e WHERE e.rec = r.rec), r.fields FROM {rej} r ORDER BY r.rec LIMIT %s").format(
        errors=q.ERRORS, rej=q.REJECTED), [MAX_REJECTED_FILE_ROWS])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["record" if record_keys else "line", "errors", *[c.header for c in layout.columns]])
    offset = 0 if record_keys else 1
    for rec, reasons, fields in cur.fetchall():
        writer.writerow([rec + offset, reasons or "", *[formula_safe(f) for f in (fields or [])]])
    return out.getvalue().encode("utf-8")


def formula_safe(value: Any) -> Any:
    """Spreadsheet programs run cells starting with = + - @ as formulas: prefix a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _decide(report: Report, options: Options) -> bool:
    """True when the valid rows may be merged."""
    if report.rejected == 0:
        return True
    if options.mode == "skip" and report.rejected <= options.max_errors:
        report.message = f"{report.rejected} bad row(s) skipped."
        return True
    report.status = "rejected"
    if options.mode == "skip":
        report.message = (f"{report.rejected} bad rows exceed the limit of {options.max_errors}: "
                          "the file was rejected and nothing was written.")
    else:
        report.message = f"{report.rejected} bad row(s): the file was rejected and nothing was written."
    return False


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
