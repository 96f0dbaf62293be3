"""SQL fragments of the ingestion pipeline, built with psycopg.sql from metadata only."""

from __future__ import annotations

from psycopg import sql

from .. import ddl
from .header import DATE_FORMATS, Column

STAGE = sql.Identifier("_ingest_stage")
TEXT_STAGE = sql.Identifier("_ingest_text")
ERRORS = sql.Identifier("_ingest_errors")
REJECTED = sql.Identifier("_ingest_rejected")
LINE = sql.Identifier("_line")

UPSERT_WORDS = ("u", "upsert", "i", "insert", "update")
DELETE_WORDS = ("d", "delete")

TYPE_WORDS = {
    "integer": "a whole number",
    "decimal": "a number (use a dot for decimals)",
    "boolean": "true/false (or yes/no, 1/0)",
    "date": "a date (YYYY-MM-DD, or choose the column's date format)",
    "datetime": "a date and time (ISO 8601, or choose the column's date format)",
}


def col(column: Column) -> sql.Identifier:
    return sql.Identifier(column.stage_name)


def staged_type(column: Column) -> sql.SQL:
    """The type a column has in the typed stage: the attribute's, except text for columns
    converted in SQL (custom date formats), ignored columns and the change column."""
    if column.attribute is None or column.date_format:
        return sql.SQL("text")
    return ddl.sql_type(column.attribute.type)


def date_rewrite(column: Column, expr: sql.Composable) -> sql.Composable:
    pattern, replacement = DATE_FORMATS[column.date_format]
    return sql.SQL("regexp_replace({}, {}, {})").format(expr, sql.Literal(pattern), sql.Literal(replacement))


def date_shape(column: Column) -> sql.Literal:
    pattern, _ = DATE_FORMATS[column.date_format]
    return sql.Literal(pattern + ("$" if column.attribute.type == "date" else r"(?:[ T].+)?$"))


def typed_value(column: Column, expr: sql.Composable) -> sql.Composable:
    """Convert a staged value to the attribute's type (for the merge)."""
    sql_type = ddl.sql_type(column.attribute.type)
    if column.date_format:
        return sql.SQL("({})::{}").format(date_rewrite(column, expr), sql_type)
    return expr


def checks(columns: list[Column], *, text_stage: bool,
           name_of=None) -> list[tuple[str, sql.Composable, str, sql.Composable]]:
    """(column header, value as text, reason, condition that is true when the value is bad).
    In the text stage every value is still text, so types are checked with
    pg_input_is_valid; in the typed stage COPY already parsed them."""
    out = []
    name_of = name_of or col
    change = next((c for c in columns if c.is_change), None)
    # A delete needs only its key: the other values of a delete row may be empty.
    not_a_delete = sql.SQL("") if change is None else sql.SQL(
        " AND NOT coalesce(lower(btrim({})) = ANY({}), false)").format(name_of(change), sql.Literal(list(DELETE_WORDS)))
    for column in columns:
        ident = name_of(column)
        as_text = sql.SQL("{}::text").format(ident)
        if column.is_change:
            words = sql.Literal(list(UPSERT_WORDS + DELETE_WORDS))
            out.append((column.header, as_text,
                        "unknown change type: use upsert (u) or delete (d)",
                        sql.SQL("{} IS NOT NULL AND NOT lower(btrim({})) = ANY({})").format(ident, ident, words)))
            continue
        attribute = column.attribute
        if attribute is None:
            continue
        sql_type = ddl.SQL_TYPES[attribute.type]
        if attribute.is_primary_key:
            out.append((column.header, sql.SQL("NULL::text"), "the primary key is missing",
                        sql.SQL("{} IS NULL").format(ident)))
        elif attribute.required:
            out.append((column.header, sql.SQL("NULL::text"), "a value is required",
                        sql.SQL("{} IS NULL{}").format(ident, not_a_delete)))
        value = ident  # an expression of the attribute's type, once known valid
        if column.date_format:
            rewritten = date_rewrite(column, ident)
            out.append((column.header, as_text, f"not a date in the format {column.date_format}",
                        sql.SQL("{v} IS NOT NULL AND ({v} !~ {shape} OR NOT pg_input_is_valid({r}, {t}))").format(
                            v=ident, shape=date_shape(column), r=rewritten, t=sql.Literal(sql_type))))
            continue
        if text_stage and sql_type != "text":
            out.append((column.header, as_text, f"not {TYPE_WORDS[attribute.type]}",
                        sql.SQL("{v} IS NOT NULL AND NOT pg_input_is_valid({v}, {t})").format(
                            v=ident, t=sql.Literal(sql_type))))
            value = sql.SQL("{}::{}").format(ident, sql.SQL(sql_type))
        check = ddl.check_expression(attribute, value)
        if check is not None:
            guard = sql.SQL("")
            if text_stage and sql_type != "text":
                guard = sql.SQL(" AND pg_input_is_valid({}, {})").format(ident, sql.Literal(sql_type))
            out.append((column.header, as_text, ddl.check_failure_reason(attribute),
                        sql.SQL("{v} IS NOT NULL{guard} AND NOT ({check})").format(v=ident, guard=guard, check=check)))
    return out


def insert_errors(stage: sql.Identifier, columns: list[Column], *, text_stage: bool) -> sql.Composable | None:
    """One scan of the stage that records every bad value as (line, column, value, reason)."""
    parts = checks(columns, text_stage=text_stage)
    if not parts:
        return None
    rows = sql.SQL(", ").join(
        sql.SQL("({}, left({}, 200), {}, {})").format(sql.Literal(header), value, sql.Literal(reason), bad)
        for header, value, reason, bad in parts)
    any_bad_row = sql.SQL(" OR ").join(sql.SQL("({})").format(bad) for _, _, _, bad in parts)
    # The OR-ed filter finds the (usually few) bad rows in one cheap pass; only those are
    # expanded into one error per bad value.
    return sql.SQL(
        "INSERT INTO {errors} (rec, col, value, reason) "
        "SELECT s.{line}, e.col, e.value, e.reason FROM (SELECT * FROM {stage} WHERE {any_bad}) s "
        "CROSS JOIN LATERAL (VALUES {rows}) AS e(col, value, reason, bad) WHERE e.bad"
    ).format(errors=ERRORS, line=LINE, stage=stage, any_bad=any_bad_row, rows=rows)


def any_bad(table: sql.Composable, columns: list[Column]) -> sql.Composable | None:
    """A query returning a row when any value of the (directly loaded) table breaks a rule."""
    parts = checks(columns, text_stage=False, name_of=lambda c: ddl.column(c.attribute))
    if not parts:
        return None
    bad = sql.SQL(" OR ").join(sql.SQL("({})").format(condition) for _, _, _, condition in parts)
    # count(*), not LIMIT 1: with a LIMIT the planner expects an early hit and scans
    # serially; a count over the whole table is split between parallel workers.
    return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, bad)
