"""After the rows are staged: validation, the set-based merge, orphans and the report."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from psycopg import sql

from .. import ddl
from ..models import Entity, Relationship
from . import sqlparts as q
from .base import (
    BULK_SHARE,
    MAX_REJECTED_FILE_ROWS,
    MAX_REPORTED_ERRORS,
    Options,
    Report,
    _exec,
    _scalar,
)
from .header import (
    REJECTED_ERRORS_COLUMN,
    REJECTED_WHERE_COLUMNS,
    Layout,
)
from .load import _drop_indexes, _restore_indexes

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


# A sign, a digit, then only digits, spaces, dots, brackets, slashes and hyphens: a number
# or a phone number, which no spreadsheet calls a function from.
SIGNED_NUMBER = re.compile(r"[+-]\d[\d .()/-]*")


def _rejected_csv(cur, layout: Layout, *, record_keys: bool) -> bytes:
    """The rejected rows as CSV: where, why, then the row as it was (formula-safe)."""
    cur.execute(sql.SQL(
        "SELECT r.rec, (SELECT string_agg(CASE WHEN e.col = '' THEN e.reason ELSE e.col || ': ' || e.reason END, '; ' "
        "ORDER BY e.col) FROM {errors} e WHERE e.rec = r.rec), r.fields FROM {rej} r ORDER BY r.rec LIMIT %s").format(
        errors=q.ERRORS, rej=q.REJECTED), [MAX_REJECTED_FILE_ROWS])
    out = io.StringIO()
    writer = csv.writer(out)
    # Header names and the reasons (which start with a header name) come from the file too.
    where = REJECTED_WHERE_COLUMNS[1] if record_keys else REJECTED_WHERE_COLUMNS[0]
    writer.writerow([where, REJECTED_ERRORS_COLUMN, *[formula_safe(c.header) for c in layout.columns]])
    offset = 0 if record_keys else 1
    for rec, reasons, fields in cur.fetchall():
        writer.writerow([rec + offset, formula_safe(reasons or ""), *[formula_safe(f) for f in (fields or [])]])
    return out.getvalue().encode("utf-8")


def formula_safe(value: Any) -> Any:
    """Spreadsheet programs run cells starting with = + - @ (or a tab, a return) as
    formulas: prefix a quote (OWASP, CSV injection). A signed number or a phone number
    ("+31 6 1234 5678", "-12.5") is not a formula: it is kept as it is, so the fixed file
    uploads again without a quote in every phone number."""
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in ("=", "@", "\t", "\r"):
        return "'" + value
    if first in ("+", "-") and not SIGNED_NUMBER.fullmatch(value):
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


