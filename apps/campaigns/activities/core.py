"""Targeting and flow activities: start, build/read audience, combine, split,
deduplication, change of dimension, fork, and-join, end."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from apps.audiences.models import Audience, AudienceStatus
from apps.audiences.rules.compiler import Compiler, compile_definition
from apps.audiences.rules.definition import RuleError, check_definition
from apps.audiences.selectors import definition_of
from apps.datamodel import ddl
from apps.datamodel.schema import Schema

from .base import Activity, Context, Outlet, SettingsError, register


def _definition(settings: dict[str, Any], schema: Schema):
    try:
        return check_definition(workspace=schema.workspace, definition=settings.get("definition"), schema=schema)
    except RuleError as exc:
        raise SettingsError("; ".join(exc.messages)) from None


def _audience(settings: dict[str, Any], schema: Schema) -> Audience:
    audience = Audience.objects.filter(workspace=schema.workspace, pk=settings.get("audience")).select_related(
        "entity", "workspace").first() if isinstance(settings.get("audience"), int) else None
    if audience is None:
        raise SettingsError("choose a saved audience of this workspace.")
    return audience


def _keys_select(definition, ctx: Context, *, within: Outlet | None = None):
    """The keys a definition matches (evaluated now, in the run's moment)."""
    query = compile_definition(definition, now=ctx.run.started_at, shape="keys")
    select = sql.SQL(query.sql)
    if within is not None:
        select = sql.SQL("SELECT x.k FROM ({}) AS x(k) WHERE x.k IN ({})").format(select, ctx.keys_of(within))
    return select, query.params


def _rule_within(definition, ctx: Context, source: Outlet):
    """The keys of `source` whose rows match the rule: the working table drives, joined to
    the entity (a subset of a million customers is not a scan of all of them)."""
    compiler = Compiler(definition.schema, ctx.run.started_at)
    entity = definition.entity
    alias = sql.Identifier("r")
    condition = compiler.node(definition.rule, entity, alias) if definition.rule is not None else sql.SQL("TRUE")
    select = sql.SQL("SELECT w.key FROM {work} w JOIN {table} r ON r.{pk} = w.key WHERE {cond}").format(
        work=ctx.ident(source.table), table=ddl.table(entity), pk=ddl.column(definition.schema.pk(entity)),
        cond=condition)
    return compiler.statement(select), compiler.params or None  # (with the saved audiences it uses)


@register
class Start(Activity):
    """The scheduler: every campaign begins here (when and how often is the campaign's schedule)."""

    type, label = "start", "Start"
    min_inputs, max_inputs, is_start = 0, 0, True

    def check(self, settings, input_entities, schema):
        return {}

    def outlets(self, settings):
        return ["out"]

    def run(self, ctx):
        return {}


@register
class BuildAudience(Activity):
    """Rows of any entity matching a rule (or a saved audience), evaluated at run time."""

    type, label = "build_audience", "Build audience"
    min_inputs, max_inputs = 0, 1

    def check(self, settings, input_entities, schema):
        if "audience" in settings:
            return {"out": _audience(settings, schema).entity.key}
        return {"out": _definition(settings, schema).result_entity.key}

    def run(self, ctx):
        if "audience" in ctx.node["settings"]:
            definition = definition_of(_audience(ctx.node["settings"], ctx.schema), ctx.schema)
        else:
            definition = _definition(ctx.node["settings"], ctx.schema)
        select, params = _keys_select(definition, ctx)
        return {"out": ctx.create_table("out", definition.result_entity.key, select, params)}


@register
class ReadAudience(BuildAudience):
    """A saved audience, re-evaluated at each run (a list: its keys)."""

    type, label = "read_audience", "Read audience"

    def check(self, settings, input_entities, schema):
        audience = _audience(settings, schema)
        if audience.is_list and audience.status != AudienceStatus.READY:
            raise SettingsError(f"the audience {audience.name!r} is not ready ({audience.status}).")
        return {"out": audience.entity.key}


@register
class Combine(Activity):
    """Union, intersection or exclusion (the first input minus the others) of sets of one entity."""

    type, label = "combine", "Combine"
    min_inputs, max_inputs = 2, None
    OPERATIONS = ("union", "intersection", "exclusion")

    def check(self, settings, input_entities, schema):
        if settings.get("operation") not in self.OPERATIONS:
            raise SettingsError(f"choose an operation: {', '.join(self.OPERATIONS)}.")
        if len(set(input_entities)) > 1:
            raise SettingsError(f"all inputs must hold the same entity; they hold {', '.join(input_entities)}.")
        return {"out": input_entities[0]}

    def run(self, ctx):
        selects = [ctx.keys_of(i) for i in ctx.inputs]
        operation = ctx.node["settings"]["operation"]
        if operation == "union":
            return {"out": ctx.create_table("out", ctx.inputs[0].entity, sql.SQL(" UNION ").join(selects))}
        if operation == "intersection":
            query = sql.SQL(" INTERSECT ").join(selects)
        else:
            query = sql.SQL("{} EXCEPT ({})").format(selects[0], sql.SQL(" UNION ").join(selects[1:]))
        # The primary (first) input's rows, with its columns.
        return {"out": ctx.subset("out", ctx.inputs[0], query)}


@register
class Split(Activity):
    """Ordered subsets: each a rule, a random share or neither, with an optional limit;
    a row goes to the first subset it fits (unless overlapping), the rest to `others`.
    A subset may also take the top N by an attribute ({"top": {"attr": "spent", "desc":
    true, "n": 100}}: the highest spenders first, empty values last) and at most so many
    rows per value of an attribute ({"per_group": {"attr": "country", "limit": 50}}),
    those also in the top order (random without one)."""

    type, label = "split", "Split"

    def outlets(self, settings):
        names = [s.get("name") for s in settings.get("subsets") or []]
        return names + (["others"] if settings.get("complement", True) else [])

    def check(self, settings, input_entities, schema):
        subsets = settings.get("subsets")
        if not isinstance(subsets, list) or not subsets:
            raise SettingsError("add at least one subset.")
        entity = input_entities[0]
        seen = set()
        for index, subset in enumerate(subsets):
            name = subset.get("name") if isinstance(subset, dict) else None
            if not isinstance(name, str) or not name.isidentifier() or name in seen or name == "others":
                raise SettingsError(f"subset {index + 1} needs a unique name of letters, digits and _.")
            seen.add(name)
            if subset.get("rule") is not None:
                _definition({"definition": {"entity": entity, "rule": subset["rule"]}}, schema)
            percent = subset.get("percent")
            if percent is not None and not (isinstance(percent, (int, float)) and 0 < percent <= 100):
                raise SettingsError(f"subset {name}: a percentage is between 0 and 100.")
            limit = subset.get("limit")
            if limit is not None and not (isinstance(limit, int) and limit >= 0):
                raise SettingsError(f"subset {name}: a limit is a whole number.")
            attrs = schema.attributes[schema.entities[entity].pk]
            top = subset.get("top")
            if top is not None:
                n = top.get("n") if isinstance(top, dict) else None
                if not isinstance(top, dict) or top.get("attr") not in attrs:
                    raise SettingsError(f"subset {name}: choose the attribute of {entity} to take the top by.")
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise SettingsError(f"subset {name}: the top N is a whole number of 1 or more.")
            group = subset.get("per_group")
            if group is not None:
                most = group.get("limit") if isinstance(group, dict) else None
                if not isinstance(group, dict) or group.get("attr") not in attrs:
                    raise SettingsError(f"subset {name}: choose the attribute of {entity} whose values form groups.")
                if not isinstance(most, int) or isinstance(most, bool) or most < 1:
                    raise SettingsError(f"subset {name}: the limit per group is a whole number of 1 or more.")
        return {outlet: entity for outlet in self.outlets(settings)}

    def run(self, ctx):
        settings, source = ctx.node["settings"], ctx.inputs[0]
        overlapping = bool(settings.get("overlapping", False))
        taken: list[Outlet] = []
        outlets: dict[str, Outlet] = {}
        total = source.count or 0
        # A random order fixed per run: the same row gets the same draw on a retry.
        seed = sql.Literal(f"run{ctx.run.pk}:{ctx.node['id']}")
        for subset in settings["subsets"]:
            pool = ctx.keys_of(source)
            params: Any = None
            if subset.get("rule") is not None:
                definition = _definition({"definition": {"entity": source.entity, "rule": subset["rule"]}}, ctx.schema)
                pool, params = _rule_within(definition, ctx, source)
            if not overlapping and taken:
                pool = sql.SQL("SELECT p.k FROM ({}) AS p(k) WHERE p.k NOT IN ({})").format(
                    pool, sql.SQL(" UNION ALL ").join(ctx.keys_of(t) for t in taken))
            limit = subset.get("limit")
            if subset.get("percent") is not None:
                share = int(total * float(subset["percent"]) / 100)
                limit = share if limit is None else min(limit, share)
            top, group = subset.get("top"), subset.get("per_group")
            if top is not None:
                limit = top["n"] if limit is None else min(limit, top["n"])
            if top is not None or group is not None:
                pool = _ranked(ctx, source, pool, seed, top=top, group=group, limit=limit)
            elif limit is not None:
                pool = sql.SQL("SELECT r.k FROM ({}) AS r(k) ORDER BY md5({} || r.k::text) LIMIT {}").format(
                    pool, seed, sql.Literal(int(limit)))
            outlet = ctx.subset(subset["name"], source, pool, params)
            outlets[subset["name"]] = outlet
            taken.append(outlet)
        if settings.get("complement", True):
            rest = sql.SQL("{} EXCEPT ({})").format(ctx.keys_of(source),
                                                    sql.SQL(" UNION ").join(ctx.keys_of(t) for t in taken))
            outlets["others"] = ctx.subset("others", source, rest)
        return outlets


def _ranked(ctx: Context, source: Outlet, pool: sql.Composable, seed: sql.Composable, *, top, group,
            limit: int | None) -> sql.Composable:
    """The keys of `pool` in the top order (or the run's random order), at most
    group["limit"] per value of group["attr"], at most `limit` in all: one window query
    over the pool joined to the entity."""
    entity = ctx.entity(source.entity)
    attrs = ctx.schema.attributes[entity.pk]
    pk = ddl.column(ctx.schema.pk(entity))
    random = sql.SQL("md5({} || p.k::text)").format(seed)
    order = sql.SQL("e.{} {} NULLS LAST, {}").format(
        ddl.column(attrs[top["attr"]]), sql.SQL("DESC" if top.get("desc", True) else "ASC"), random) \
        if top is not None else random
    rank = sql.SQL("row_number() OVER (PARTITION BY e.{} ORDER BY {})").format(
        ddl.column(attrs[group["attr"]]), order) if group is not None else sql.SQL("1")
    query = sql.SQL("SELECT q.k FROM (SELECT p.k, {rank} AS gn, row_number() OVER (ORDER BY {order}) AS o "
                    "FROM ({pool}) AS p(k) JOIN {table} e ON e.{pk} = p.k) q WHERE q.gn <= {most} ORDER BY q.o").format(
        rank=rank, order=order, pool=pool, table=ddl.table(entity), pk=pk,
        most=sql.Literal(int(group["limit"]) if group is not None else 1))
    if limit is not None:
        query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(int(limit)))
    return query


@register
class Deduplicate(Activity):
    """Rows sharing the chosen attributes (e.g. the same email) are duplicates: keep the
    first by an ordering; the duplicates go to `duplicates`."""

    type, label = "deduplicate", "Deduplication"

    def outlets(self, settings):
        return ["out", "duplicates"]

    def check(self, settings, input_entities, schema):
        entity = schema.entities[input_entities[0]]
        attrs = schema.attributes[entity.pk]
        fields = settings.get("fields")
        if not isinstance(fields, list) or not fields or any(f not in attrs for f in fields):
            raise SettingsError(f"choose the attributes of {entity.key} that identify duplicates.")
        order = settings.get("keep_first_by")
        if order is not None and order.lstrip("-") not in attrs:
            raise SettingsError(f"{entity.key} has no attribute {order.lstrip('-')!r} to order by.")
        return {"out": entity.key, "duplicates": entity.key}

    def run(self, ctx):
        settings, source = ctx.node["settings"], ctx.inputs[0]
        entity = ctx.entity(source.entity)
        attrs = ctx.schema.attributes[entity.pk]
        pk = ddl.column(ctx.schema.pk(entity))
        order_key = settings.get("keep_first_by") or ctx.schema.pk(entity).key
        direction = sql.SQL("DESC") if order_key.startswith("-") else sql.SQL("ASC")
        ranked = sql.SQL(
            "SELECT e.{pk} AS key, row_number() OVER (PARTITION BY {fields} ORDER BY e.{order} {dir} NULLS LAST, "
            "e.{pk}) AS n FROM {table} e WHERE e.{pk} IN ({keys})").format(
            pk=pk, fields=sql.SQL(", ").join(sql.SQL("lower(e.{}::text)").format(ddl.column(attrs[f]))
                                             for f in settings["fields"]),
            order=ddl.column(attrs[order_key.lstrip("-")]), dir=direction, table=ddl.table(entity),
            keys=ctx.keys_of(source))
        # Rank once into a scratch table; both outlets read it.
        ranks = ctx.ident(ctx.table_name("_ranks"))
        ctx.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ranks))
        ctx.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(ranks, ranked))
        keep = ctx.subset("out", source, sql.SQL("SELECT key FROM {} WHERE n = 1").format(ranks))
        dups = ctx.subset("duplicates", source, sql.SQL("SELECT key FROM {} WHERE n > 1").format(ranks))
        ctx.execute(sql.SQL("DROP TABLE {}").format(ranks))
        return {"out": keep, "duplicates": dups}


@register
class ChangeDimension(Activity):
    """Move along links: bookings -> their customers (each once), customers -> their bookings."""

    type, label = "change_dimension", "Change dimension"

    def check(self, settings, input_entities, schema):
        definition = {"entity": input_entities[0], "dimension": settings.get("path")}
        try:
            checked = check_definition(workspace=schema.workspace, definition=definition, schema=schema)
        except RuleError as exc:
            raise SettingsError("; ".join(exc.messages)) from None
        if not checked.dimension:
            raise SettingsError("choose the link(s) to follow, e.g. ['customer'].")
        return {"out": checked.result_entity.key}

    def run(self, ctx):
        source = ctx.inputs[0]
        definition = check_definition(workspace=ctx.workspace, schema=ctx.schema, definition={
            "entity": source.entity, "dimension": ctx.node["settings"]["path"]})
        return {"out": ctx.create_table("out", definition.result_entity.key, _path_select(ctx, source, definition))}


def _path_select(ctx: Context, source: Outlet, definition) -> sql.Composable:
    keys = ctx.keys_of(source)
    entity = ctx.entity(source.entity)
    for rel, direction in definition.dimension:
        if direction == "up":
            nxt = rel.target
            keys = sql.SQL("SELECT p.{ppk} FROM {parent} p WHERE p.{ppk} IN (SELECT s.{fk} FROM {src} s "
                           "WHERE s.{spk} IN ({keys}))").format(
                ppk=ddl.column(ctx.schema.pk(nxt)), parent=ddl.table(nxt), fk=ddl.column(rel.attribute),
                src=ddl.table(entity), spk=ddl.column(ctx.schema.pk(entity)), keys=keys)
        else:
            nxt = rel.source
            keys = sql.SQL("SELECT c.{cpk} FROM {child} c WHERE c.{fk} IN ({keys})").format(
                cpk=ddl.column(ctx.schema.pk(nxt)), child=ddl.table(nxt), fk=ddl.column(rel.attribute), keys=keys)
        entity = nxt
    return keys


@register
class Fork(Activity):
    """The same rows down several branches."""

    type, label = "fork", "Fork"

    def outlets(self, settings):
        count = settings.get("branches", 2)
        return [f"branch{i}" for i in range(1, (count if isinstance(count, int) and 2 <= count <= 20 else 2) + 1)]

    def run(self, ctx):
        source = ctx.inputs[0]
        return {name: Outlet(table=source.table, entity=source.entity, count=source.count)
                for name in self.outlets(ctx.node["settings"])}


@register
class AndJoin(Activity):
    """Waits for all its inputs; the primary (first) input's rows continue."""

    type, label = "and_join", "And-join"
    min_inputs, max_inputs = 2, None

    def run(self, ctx):
        primary = ctx.inputs[0]
        return {"out": Outlet(table=primary.table, entity=primary.entity, count=primary.count)}


@register
class End(Activity):
    type, label = "end", "End"
    min_inputs, max_inputs = 1, None

    def outlets(self, settings):
        return []

    def check(self, settings, input_entities, schema):
        return {}

    def run(self, ctx):
        return {}
