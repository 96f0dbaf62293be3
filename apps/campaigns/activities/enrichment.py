"""Enrichment: add columns to the working table, for later activities and for
personalization:

    {"attributes": [{"name": "country", "path": "country"},
                    {"name": "product_name", "path": "product.name"}],           (through links)
     "aggregates": [{"name": "spent", "related": "bookings", "agg": "sum", "attr": "amount",
                     "where": {...rule on booking...}}],
     "first": [{"name": "next_trip", "related": "bookings", "order_by": "start_date",
                "descending": false, "where": {...}, "attributes": ["booking_id", "start_date"]}]}

`first` adds one column per listed attribute, named <name>__<attribute>: the first related
row by the ordering (e.g. the next booking).

    "lists": [{"name": "trips", "related": "bookings", "order_by": "start_date", "limit": 5,
               "descending": false, "where": {...}, "attributes": ["booking_id", "start_date"]}]

`lists` adds one JSON column: up to `limit` (1-50, default 10) related rows in that order,
each an object of the listed attributes, for templates to loop over
({% for trip in enrichment.trips %}). Columns already on the input are kept."""

from __future__ import annotations

import re

from psycopg import sql

from apps.audiences.rules.compiler import Compiler
from apps.audiences.rules.definition import RuleError, check_definition
from apps.datamodel import ddl

from .base import Activity, SettingsError, register

COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
AGGREGATES = ("count", "sum", "avg", "min", "max")


def _column_name(name, seen):
    if not isinstance(name, str) or not COLUMN.match(name) or name == "key" or name in seen:
        raise SettingsError(f"{name!r}: a column name is lowercase letters, digits and _ (unique, not 'key').")
    seen.add(name)
    return name


@register
class Enrichment(Activity):
    type, label = "enrichment", "Enrichment"

    def check(self, settings, input_entities, schema):
        entity = schema.entities[input_entities[0]]
        self._plan(settings, entity, schema)
        return {"out": entity.key}

    def _plan(self, settings, entity, schema):
        """Checked pieces: [(column, kind, details)]."""
        seen: set[str] = set()
        pieces = []
        for item in settings.get("attributes") or []:
            name = _column_name(item.get("name"), seen)
            *links, key = str(item.get("path", "")).split(".")
            current, steps = entity, []
            for link in links:
                rel = schema.outgoing[current.pk].get(link)
                if rel is None:
                    raise SettingsError(f"{name}: {current.key} has no link {link!r}.")
                steps.append(rel)
                current = rel.target
            attribute = schema.attributes[current.pk].get(key)
            if attribute is None:
                raise SettingsError(f"{name}: {current.key} has no attribute {key!r}.")
            pieces.append((name, "attribute", {"steps": steps, "attribute": attribute}))
        for item in settings.get("aggregates") or []:
            name = _column_name(item.get("name"), seen)
            rel = schema.incoming[entity.pk].get(item.get("related"))
            if rel is None:
                raise SettingsError(f"{name}: {entity.key} has no related rows {item.get('related')!r}.")
            agg = item.get("agg")
            if agg not in AGGREGATES:
                raise SettingsError(f"{name}: agg is one of {', '.join(AGGREGATES)}.")
            attribute = None
            if agg != "count":
                attribute = schema.attributes[rel.source.pk].get(item.get("attr"))
                if attribute is None:
                    raise SettingsError(f"{name}: {rel.source.key} has no attribute {item.get('attr')!r}.")
            pieces.append((name, "aggregate", {"rel": rel, "agg": agg, "attribute": attribute,
                                               "where": self._where(item, rel, schema, name)}))
        for kind in ("first", "lists"):
            for item in settings.get(kind) or []:
                name = _column_name(item.get("name"), seen)
                rel = schema.incoming[entity.pk].get(item.get("related"))
                if rel is None:
                    raise SettingsError(f"{name}: {entity.key} has no related rows {item.get('related')!r}.")
                attrs = schema.attributes[rel.source.pk]
                order = attrs.get(item.get("order_by"))
                chosen = item.get("attributes") or []
                if order is None or not chosen or any(a not in attrs for a in chosen):
                    raise SettingsError(f"{name}: give order_by and attributes of {rel.source.key}.")
                details = {"rel": rel, "order": order, "descending": bool(item.get("descending")),
                           "attributes": [attrs[a] for a in chosen], "where": self._where(item, rel, schema, name)}
                if kind == "first":
                    for a in chosen:
                        _column_name(f"{name}__{a}", seen)
                    pieces.append((name, "first", details))
                    continue
                limit = item.get("limit", 10)
                if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
                    raise SettingsError(f"{name}: limit is a whole number from 1 to 50.")
                pieces.append((name, "list", {**details, "limit": limit}))
        if not pieces:
            raise SettingsError("add at least one attribute, aggregate, first related row or list.")
        return pieces

    @staticmethod
    def _where(item, rel, schema, name):
        if item.get("where") is None:
            return None
        try:
            return check_definition(workspace=schema.workspace, schema=schema,
                                    definition={"entity": rel.source.key, "rule": item["where"]})
        except RuleError as exc:
            raise SettingsError(f"{name}: " + "; ".join(exc.messages)) from None

    def run(self, ctx):
        source = ctx.inputs[0]
        entity = ctx.entity(source.entity)
        pieces = self._plan(ctx.node["settings"], entity, ctx.schema)
        compiler = Compiler(ctx.schema, ctx.run.started_at)
        pk = ddl.column(ctx.schema.pk(entity))
        joins: list[sql.Composable] = [sql.SQL("JOIN {} e ON e.{} = w.key").format(ddl.table(entity), pk)]
        columns: list[sql.Composable] = []
        for index, (name, kind, d) in enumerate(pieces):
            if kind == "attribute":
                alias = sql.SQL("e")
                for step_no, rel in enumerate(d["steps"]):
                    nxt = sql.Identifier(f"l{index}_{step_no}")
                    joins.append(sql.SQL("LEFT JOIN {t} {n} ON {n}.{ppk} = {a}.{fk}").format(
                        t=ddl.table(rel.target), n=nxt, ppk=ddl.column(ctx.schema.pk(rel.target)), a=alias,
                        fk=ddl.column(rel.attribute)))
                    alias = nxt
                columns.append(sql.SQL("{}.{} AS {}").format(alias, ddl.column(d["attribute"]), sql.Identifier(name)))
                continue
            rel = d["rel"]
            child = sql.Identifier(f"c{index}")
            where = compiler.node(d["where"].rule, rel.source, child) if d["where"] and d["where"].rule else sql.SQL(
                "TRUE")
            lateral = sql.Identifier(f"x{index}")
            if kind == "aggregate":
                measure = sql.SQL("count(*)") if d["agg"] == "count" else sql.SQL("{}({}.{})").format(
                    sql.SQL(d["agg"]), child, ddl.column(d["attribute"]))
                joins.append(sql.SQL("LEFT JOIN LATERAL (SELECT {m} AS v FROM {t} {c} WHERE {c}.{fk} = e.{pk} "
                                     "AND {w}) {x} ON true").format(
                    m=measure, t=ddl.table(rel.source), c=child, fk=ddl.column(rel.attribute), pk=pk, w=where,
                    x=lateral))
                value = sql.SQL("coalesce({}.v, 0)").format(lateral) if d["agg"] in ("count", "sum") else \
                    sql.SQL("{}.v").format(lateral)
                columns.append(sql.SQL("{} AS {}").format(value, sql.Identifier(name)))
            elif kind == "list":
                inner = sql.Identifier(f"r{index}")
                pairs = sql.SQL(", ").join(sql.SQL("{}, {}.{}").format(sql.Literal(a.key), inner, ddl.column(a))
                                           for a in d["attributes"])
                picked = sql.SQL(", ").join(sql.SQL("{}.{}").format(child, ddl.column(a)) for a in d["attributes"])
                order = sql.SQL("{}.{} {} NULLS LAST, {}.{}").format(
                    child, ddl.column(d["order"]), sql.SQL("DESC" if d["descending"] else "ASC"), child,
                    ddl.column(ctx.schema.pk(rel.source)))
                joins.append(sql.SQL(
                    "LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object({pairs}) ORDER BY {inner}._n) AS v FROM "
                    "(SELECT {picked}, row_number() OVER (ORDER BY {order}) AS _n FROM {t} {c} WHERE {c}.{fk} = e.{pk} "
                    "AND {w} ORDER BY {order} LIMIT {limit}) {inner}) {x} ON true").format(
                    pairs=pairs, inner=inner, picked=picked, order=order, t=ddl.table(rel.source), c=child,
                    fk=ddl.column(rel.attribute), pk=pk, w=where, limit=sql.Literal(d["limit"]), x=lateral))
                columns.append(sql.SQL("coalesce({}.v, '[]'::jsonb) AS {}").format(lateral, sql.Identifier(name)))
            else:
                picked = sql.SQL(", ").join(sql.SQL("{}.{}").format(child, ddl.column(a)) for a in d["attributes"])
                joins.append(sql.SQL("LEFT JOIN LATERAL (SELECT {cols} FROM {t} {c} WHERE {c}.{fk} = e.{pk} AND {w} "
                                     "ORDER BY {c}.{o} {dir} NULLS LAST, {c}.{cpk} LIMIT 1) {x} ON true").format(
                    cols=picked, t=ddl.table(rel.source), c=child, fk=ddl.column(rel.attribute), pk=pk, w=where,
                    o=ddl.column(d["order"]), dir=sql.SQL("DESC" if d["descending"] else "ASC"),
                    cpk=ddl.column(ctx.schema.pk(rel.source)), x=lateral))
                for attribute in d["attributes"]:
                    columns.append(sql.SQL("{}.{} AS {}").format(lateral, ddl.column(attribute),
                                                                 sql.Identifier(f"{name}__{attribute.key}")))
        name = ctx.table_name("out")
        target = ctx.ident(name)
        ctx.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        select = sql.SQL("SELECT w.*, {} FROM {} w {}").format(
            sql.SQL(", ").join(columns), ctx.ident(source.table), sql.SQL(" ").join(joins))
        # (compiler.statement: with the saved audiences the `where` rules use)
        count = ctx.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(target, compiler.statement(select)),
                            compiler.params or None)
        ctx.execute(sql.SQL("ANALYZE {}").format(target))
        from .base import Outlet  # noqa: PLC0415

        return {"out": Outlet(table=name, entity=entity.key, count=count)}
