"""Reads of a workspace's data model and of its records (the data browser and the API).
Record queries are built with psycopg.sql: identifiers from metadata, values bound."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from psycopg import sql

from apps.core.inputs import json_loads_checked
from apps.core.sqlutil import fetchall, fetchone, render, workspace_schema
from apps.tenants.models import Workspace

from . import ddl
from .models import AddressMapping, Attribute, Entity, IngestionJob, Relationship

MAX_PAGE = 500
FILTER_OPS = {"eq", "ne", "lt", "lte", "gt", "gte", "contains", "startswith", "isnull", "notnull", "in"}


def entity_list(*, workspace: Workspace) -> QuerySet[Entity]:
    return Entity.objects.filter(workspace=workspace).prefetch_related(
        Prefetch("attributes", queryset=Attribute.objects.order_by("position", "id")))


def access_entity(actor: Any, workspace: Workspace, key: str) -> Entity:
    """An entity of this workspace by key; 404 otherwise (the same for other workspaces)."""
    entity = entity_list(workspace=workspace).filter(key=key).first()
    if entity is None:
        raise Http404("Not found.")
    return entity


def access_attribute(actor: Any, workspace: Workspace, entity: Entity, key: str) -> Attribute:
    attribute = Attribute.objects.filter(workspace=workspace, entity=entity, key=key).select_related("entity").first()
    if attribute is None:
        raise Http404("Not found.")
    return attribute


def access_relationship(actor: Any, workspace: Workspace, pk: Any) -> Relationship:
    try:
        return Relationship.objects.select_related("source", "target", "attribute").get(workspace=workspace, pk=pk)
    except (Relationship.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def access_ingestion_job(actor: Any, workspace: Workspace, pk: Any) -> IngestionJob:
    try:
        return IngestionJob.objects.select_related("entity", "created_by").get(workspace=workspace, pk=pk)
    except (IngestionJob.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def relationship_list(*, workspace: Workspace) -> QuerySet[Relationship]:
    return Relationship.objects.filter(workspace=workspace).select_related("source", "target", "attribute")


def ingestion_job_list(*, workspace: Workspace, entity: Entity | None = None) -> QuerySet[IngestionJob]:
    qs = IngestionJob.objects.filter(workspace=workspace).select_related("entity", "created_by")
    return qs.filter(entity=entity) if entity is not None else qs


def address_mapping(*, workspace: Workspace) -> tuple[Entity | None, dict[str, str]]:
    """The profile dimension and which of its attributes holds each address role."""
    profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
    mappings = AddressMapping.objects.filter(workspace=workspace).select_related("attribute").order_by("role")
    return profile, {m.role: m.attribute.key for m in mappings}


# --- values ------------------------------------------------------------------------------

def parse_value(attribute: Attribute, raw: Any) -> Any:
    """A value typed by a user (query string, JSON) as the attribute's Python type."""
    if raw is None:
        return None
    text = _no_nul(attribute, str(raw).strip())
    try:
        if attribute.type == "integer":
            return int(text)
        if attribute.type == "decimal":
            number = Decimal(text)
            # PostgreSQL's numeric range: beyond it the driver's value would fail in the query.
            if number.is_finite() and (number.adjusted() >= 131072 or number.as_tuple().exponent < -16383):
                raise ValueError(text)
            return number
        if attribute.type == "boolean":
            lowered = text.lower()
            if lowered in ("true", "t", "yes", "y", "1", "on"):
                return True
            if lowered in ("false", "f", "no", "n", "0", "off"):
                return False
            raise ValueError(text)
        if attribute.type == "date":
            return dt.date.fromisoformat(text)
        if attribute.type == "datetime":
            value = dt.datetime.fromisoformat(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=_zone(attribute))
            return value
    except (ValueError, InvalidOperation):
        raise ValidationError(
            f"{attribute.key}: {text[:100]!r} is not a valid {attribute.get_type_display().lower()}.") \
            from None
    return text


def _zone(attribute: Attribute):
    # The entity (and its workspace) is usually loaded already: avoid a query per value.
    entity = attribute._state.fields_cache.get("entity")
    workspace = entity._state.fields_cache.get("workspace") if entity is not None else None
    return (workspace or attribute.workspace).zone


def _no_nul(attribute: Attribute, text: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the driver.
    if "\x00" in text:
        raise ValidationError(f"{attribute.key}: a value cannot contain a NUL character.")
    return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- records ------------------------------------------------------------------------------

@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    columns: list[Attribute]


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_jsonable(v) for v in values]).encode()).decode()


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        # a client's string: checked like any request JSON (depth, NUL, lone surrogates)
        values = json_loads_checked(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The cursor is not valid; start again from the first page.") from None
    if not isinstance(values, list) or len(values) != 2:
        raise ValidationError("The cursor is not valid; start again from the first page.")
    return values


def _filter_clause(attributes: dict[str, Attribute], filters: list[tuple[str, str, Any]]) -> tuple[sql.Composable, list]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for key, op, raw in filters:
        attribute = attributes.get(key)
        if attribute is None:
            raise ValidationError(f"Unknown attribute {key!r} in a filter.")
        if op not in FILTER_OPS:
            raise ValidationError(f"Unknown filter operator {op!r}: use one of {', '.join(sorted(FILTER_OPS))}.")
        column = ddl.column(attribute)
        if op == "isnull":
            parts.append(sql.SQL("{} IS NULL").format(column))
        elif op == "notnull":
            parts.append(sql.SQL("{} IS NOT NULL").format(column))
        elif op in ("contains", "startswith"):
            text = _no_nul(attribute, str(raw or "")).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            parts.append(sql.SQL("{}::text ILIKE %s").format(column))
            params.append(f"%{text}%" if op == "contains" else f"{text}%")
        elif op == "in":
            values = raw if isinstance(raw, list) else [v for v in str(raw or "").split(",") if v != ""]
            parts.append(sql.SQL("{} = ANY(%s)").format(column))
            params.append([parse_value(attribute, v) for v in values])
        else:
            symbol = {"eq": "=", "ne": "IS DISTINCT FROM", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
            parts.append(sql.SQL("{} {} %s").format(column, sql.SQL(symbol)))
            params.append(parse_value(attribute, raw))
    if not parts:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(parts), params


def records_page(*, entity: Entity, filters: list[tuple[str, str, Any]] | None = None, sort: str | None = None,
                 descending: bool = False, cursor: str | None = None, limit: int = 50) -> Page:
    """One page of records, keyset-paginated on (sort attribute, primary key), so the
    1,000th page costs what the first does."""
    attributes = {a.key: a for a in entity.attributes.all()}
    pk = next(a for a in attributes.values() if a.is_primary_key)
    sort_attr = attributes.get(sort or pk.key)
    if sort_attr is None:
        raise ValidationError(f"Unknown attribute {sort!r} to sort by.")
    limit = max(1, min(int(limit), MAX_PAGE))
    where, params = _filter_clause(attributes, filters or [])
    sort_col, pk_col = ddl.column(sort_attr), ddl.column(pk)
    direction = sql.SQL("DESC" if descending else "ASC")
    # NULLs sort last either way; the sort key is (value IS NULL, value, pk).
    key_expr = sql.SQL("({} IS NULL)").format(sort_col)
    if cursor:
        after_value, after_pk = _decode_cursor(cursor)
        after_value = parse_value(sort_attr, after_value) if after_value is not None else None
        after_pk = parse_value(pk, after_pk)
        cmp = sql.SQL("<" if descending else ">")
        if sort_attr.pk == pk.pk:
            where = sql.SQL("{} AND {} {} %s").format(where, pk_col, cmp)
            params.append(after_pk)
        elif after_value is None:
            where = sql.SQL("{} AND {} IS NULL AND {} {} %s").format(where, sort_col, pk_col, cmp)
            params.append(after_pk)
        else:
            where = sql.SQL("{w} AND ({s} IS NULL OR ({s}, {p}) {cmp} (%s, %s))").format(
                w=where, s=sort_col, p=pk_col, cmp=cmp)
            params.extend([after_value, after_pk])
    columns = [a for a in attributes.values()]
    select = sql.SQL(", ").join([ddl.column(a) for a in columns] + [sql.Identifier(ddl.UPDATED_AT)])
    query = sql.SQL("SELECT {select} FROM {table} WHERE {where} ORDER BY {nulls} ASC, {sort} {dir}, {pk} {dir} "
                    "LIMIT %s").format(select=select, table=ddl.table(entity), where=where, nulls=key_expr,
                                       sort=sort_col, dir=direction, pk=pk_col)
    rows = fetchall(query, [*params, limit + 1])
    names = [a.key for a in columns] + [ddl.UPDATED_AT]
    records = [dict(zip(names, row, strict=True)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and records:
        last = records[-1]
        next_cursor = _encode_cursor([last[sort_attr.key], last[pk.key]])
    return Page(rows=records, next_cursor=next_cursor, columns=columns)


# Past this many rows (by the planner's estimate) an unfiltered count(*) reads the whole
# table on every page view: the browser shows the estimate instead, and says so.
EXACT_COUNT_UP_TO = 1_000_000


def records_total(*, entity: Entity, filters: list[tuple[str, str, Any]] | None = None) -> tuple[int, bool]:
    """(rows, is_estimate): the planner's estimate for a huge unfiltered table, else count(*)."""
    if not filters:
        row = fetchone(sql.SQL("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"),
                       [render(ddl.table(entity))])
        estimate = int(row[0]) if row and row[0] is not None else -1
        if estimate > EXACT_COUNT_UP_TO:
            return estimate, True
    return records_count(entity=entity, filters=filters), False


def records_count(*, entity: Entity, filters: list[tuple[str, str, Any]] | None = None) -> int:
    attributes = {a.key: a for a in entity.attributes.all()}
    where, params = _filter_clause(attributes, filters or [])
    row = fetchone(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(ddl.table(entity), where), params)
    return int(row[0]) if row else 0


# Guessed when an entity names no display attribute: the first of these it has.
DISPLAY_DEFAULTS = (("name",), ("full_name",), ("first_name", "last_name"), ("title",), ("email",))
MAX_DISPLAY_NAME = 120


def display_name(*, entity: Entity, record: dict[str, Any]) -> str:
    """What a record is called on its page ("Anna Jansen"): the entity's display attribute,
    else a guess; "" when that is empty (the page falls back to the key)."""
    keys = {a.key for a in entity.attributes.all()}
    if entity.display_attribute and entity.display_attribute in keys:
        choices: tuple[tuple[str, ...], ...] = ((entity.display_attribute,),)
    else:
        choices = tuple(c for c in DISPLAY_DEFAULTS if all(k in keys for k in c))
    for choice in choices:
        text = " ".join(str(record[k]).strip() for k in choice if record.get(k) not in (None, ""))
        if text.strip():
            return text if len(text) <= MAX_DISPLAY_NAME else text[:MAX_DISPLAY_NAME - 1] + "…"
    return ""


def record_get(*, entity: Entity, key: Any) -> dict[str, Any]:
    """One record by primary key; 404 when there is none."""
    attributes = list(entity.attributes.all())
    pk = next(a for a in attributes if a.is_primary_key)
    try:
        value = parse_value(pk, key)
    except ValidationError:
        raise Http404("Not found.") from None
    select = sql.SQL(", ").join([ddl.column(a) for a in attributes] + [sql.Identifier(ddl.UPDATED_AT)])
    row = fetchone(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(select, ddl.table(entity), ddl.column(pk)),
                   [value])
    if row is None:
        raise Http404("Not found.")
    return dict(zip([a.key for a in attributes] + [ddl.UPDATED_AT], row, strict=True))


@dataclass
class Link:
    relationship: Relationship
    entity: Entity  # the entity at the other end
    key: Any = None  # outgoing: the parent's key (None when empty)
    record: dict[str, Any] | None = None  # outgoing: the parent (None when an orphan)
    records: list[dict[str, Any]] | None = None  # incoming: the first children
    count: int = 0  # incoming: how many children


def record_links(*, entity: Entity, record: dict[str, Any], limit: int = 20) -> tuple[list[Link], list[Link]]:
    """Related records in both directions: the parents it points to, the children that
    point to it (first `limit` of each, with their count)."""
    workspace = entity.workspace
    outgoing, incoming = [], []
    rels = relationship_list(workspace=workspace).filter(source=entity) | relationship_list(
        workspace=workspace).filter(target=entity)
    for rel in rels.order_by("id"):
        if rel.source_id == entity.pk:
            parent = entity_list(workspace=workspace).get(pk=rel.target_id)
            value = record.get(rel.attribute.key)
            parent_record = None
            if value is not None:
                try:
                    parent_record = record_get(entity=parent, key=value)
                except Http404:
                    parent_record = None
            outgoing.append(Link(relationship=rel, entity=parent, key=value, record=parent_record))
        if rel.target_id == entity.pk:
            child = entity_list(workspace=workspace).get(pk=rel.source_id)
            pk = next(a for a in entity.attributes.all() if a.is_primary_key)
            filters = [(rel.attribute.key, "eq", record[pk.key])]
            page = records_page(entity=child, filters=filters, limit=limit)
            incoming.append(Link(relationship=rel, entity=child, records=page.rows,
                                 count=records_count(entity=child, filters=filters)))
    return outgoing, incoming


def value_for_json(value: Any) -> Any:
    return _jsonable(value)


# Past this many rows (by the planner's estimate), count(*) costs more than a page view
# should: the model page shows the estimate instead.
EXACT_COUNT_BELOW = 100_000


def entity_row_counts(*, workspace: Workspace, entities: list[Entity]) -> dict[str, tuple[int, bool]]:
    """Rows per entity as (count, is_estimate), in two queries whatever the number of entities."""
    if not entities:
        return {}
    schema = workspace_schema(workspace.pk)
    estimates = {name: int(n) for name, n in fetchall(
        "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r'", [schema])}
    small = [e for e in entities if e.key in estimates and estimates[e.key] < EXACT_COUNT_BELOW]
    counts: dict[str, tuple[int, bool]] = {}
    if small:
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(e.key), ddl.table(e)) for e in small)
        counts = {key: (int(n), False) for key, n in fetchall(query)}
    for entity in entities:
        if entity.key not in counts and entity.key in estimates:
            counts[entity.key] = (estimates[entity.key], True)
    return counts
