"""A few rows of the population flowing along one edge of a run: the working table of the
edge's source outlet (keys plus enrichment columns), joined to its entity's table for the
attributes a marketer recognises. Read only, bounded in rows, columns and time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, transaction
from psycopg import sql

from apps.core.sqlutil import render, workspace_schema
from apps.datamodel import ddl
from apps.datamodel.schema import Schema

from .models import ActivityRun, Run

PREVIEW_ROWS = 10
# The entity's first attributes (by their order in the data model): a table that fits a page.
PREVIEW_ATTRIBUTES = 8
PREVIEW_TIMEOUT_MS = 3_000
CELL_CHARS = 120


@dataclass
class EdgePreview:
    source: str
    outlet: str
    target: str
    count: int | None = None
    entity: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    problem: str = ""  # why there are no rows to show


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | Decimal):
        return str(value)
    return str(value)[:CELL_CHARS]  # tenant text: bounded here, escaped by the template


def edge_preview(*, run: Run, source: str, outlet: str, target: str) -> EdgePreview | None:
    """None when the run's version has no such edge (a 404 for the caller)."""
    edges = [e for e in (run.version.definition or {}).get("edges", []) if isinstance(e, dict)]
    if not any(e.get("from") == source and (e.get("outlet") or "out") == outlet and e.get("to") == target
               for e in edges):
        return None
    preview = EdgePreview(source=source, outlet=outlet, target=target)
    activity = ActivityRun.objects.filter(workspace=run.workspace, run=run, node_id=source).first()
    info = (activity.outlets or {}).get(outlet) if activity is not None else None
    if not isinstance(info, dict) or not isinstance(info.get("table"), str):
        preview.problem = "No rows have flowed along this connection yet."
        return preview
    preview.count = info.get("count")
    if run.tables_purged_at is not None:
        preview.problem = "This run's working tables were purged (old runs keep only their counts)."
        return preview
    schema = Schema.load(run.workspace)
    entity = schema.entities.get(info.get("entity"))
    if entity is None:
        preview.problem = "The entity of these rows no longer exists."
        return preview
    preview.entity = entity.label or entity.key
    namespace = workspace_schema(run.workspace_id)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(PREVIEW_TIMEOUT_MS)])
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                           "AND table_name = %s ORDER BY ordinal_position", [namespace, info["table"]])
            extra = [name for (name,) in cursor.fetchall() if name != "key"]
            if not extra and not _exists(cursor, namespace, info["table"]):
                preview.problem = "This run's working table is gone."
                return preview
            pk = schema.pk(entity)
            attributes = [a for a in schema.attributes[entity.pk].values() if not a.is_primary_key]
            attributes = attributes[:PREVIEW_ATTRIBUTES]
            query = sql.SQL("SELECT w.key, {attrs} FROM {work} w LEFT JOIN {table} e ON e.{pk} = w.key "
                            "ORDER BY w.key LIMIT {n}").format(
                attrs=sql.SQL(", ").join([*(sql.SQL("e.{}").format(ddl.column(a)) for a in attributes),
                                          *(sql.SQL("w.{}").format(sql.Identifier(c)) for c in extra)])
                if attributes or extra else sql.SQL("NULL"),
                work=sql.Identifier(namespace, info["table"]), table=ddl.table(entity), pk=ddl.column(pk),
                n=sql.Literal(PREVIEW_ROWS))
            cursor.execute(render(query))
            preview.rows = [[_cell(v) for v in row] for row in cursor.fetchall()]
            preview.columns = [pk.key, *(a.key for a in attributes), *extra] if attributes or extra else [pk.key, ""]
    except DatabaseError:
        preview.problem = "The rows could not be read in time."
        preview.rows, preview.columns = [], []
    return preview


def _exists(cursor, namespace: str, table: str) -> bool:
    cursor.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", [namespace, table])
    return bool(cursor.fetchone()[0])
