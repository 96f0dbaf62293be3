"""A checked rule -> ONE SQL query, built with psycopg.sql: identifiers from metadata,
every value a named bound parameter. PostgreSQL does the work.

Shapes: conditions through many-to-one links and `exists` become EXISTS semi-joins;
aggregates over related rows become one grouped subquery (`key IN (SELECT fk ... GROUP BY
fk HAVING ...)`) when rows without related rows cannot match, else a correlated subquery;
`not` is `(...) IS NOT TRUE`, the complement, empty values included."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from psycopg import sql

from apps.audiences.rules.definition import (
    AttrCond,
    AudienceCond,
    Definition,
    Group,
    Node,
    RelatedCond,
)
from apps.core.sqlutil import workspace_schema
from apps.datamodel import ddl
from apps.datamodel.models import Attribute, Entity
from apps.datamodel.schema import Schema

TEXT_TYPES = {"text", "email", "phone", "enum"}
FOLDED = {"ieq", "icontains", "istarts_with", "iends_with"}


def fold(expr: sql.Composable) -> sql.Composable:
    """The case fold of the case-insensitive operators, the same SQL for the column and the
    value: PostgreSQL's lower(), with final sigma folded like sigma (as Unicode case
    folding does: "ΟΔΟΣ" and "οδος" are one word)."""
    return sql.SQL("translate(lower({}), chr(962), chr(963))").format(expr)  # ς -> σ


def add_months(day: dt.date | dt.datetime, months: int):
    """Calendar months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def shift(moment, amount: int, unit: str):
    if unit == "months":
        return add_months(moment, amount)
    return moment + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))


def day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)


def anniversary_window(today: dt.date, days: int) -> tuple[str, str] | None:
    """The MMDD range from today to today+days (it wraps at the new year when start > end),
    or None when the window holds a whole year (every anniversary falls in it)."""
    if days >= 365:
        return None
    return today.strftime("%m%d"), (today + dt.timedelta(days=days)).strftime("%m%d")


def leap_day_observed(today: dt.date, days: int) -> bool:
    """Does the window hold Feb 28 of a year without a Feb 29? Then 29 February
    anniversaries fall on that day (else they would never fall in any window that year)."""
    end = today + dt.timedelta(days=days)
    for year in range(today.year, end.year + 1):
        if not calendar.isleap(year) and today <= dt.date(year, 2, 28) <= end:
            return True
    return False


@dataclass
class Compiler:
    schema: Schema
    now: dt.datetime
    params: dict[str, Any] = field(default_factory=dict)
    aliases: int = 0
    # Session settings the query runs best with (see `related`).
    settings: dict[str, str] = field(default_factory=dict)
    # saved audience id -> (name, SELECT of its keys), in the order they must be defined
    ctes: dict[int, tuple[sql.Identifier, sql.Composable]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.schema.workspace.time_zone)

    @property
    def local_now(self) -> dt.datetime:
        return self.now.astimezone(self.zone)

    @property
    def today(self) -> dt.date:
        return self.local_now.date()

    def param(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def alias(self) -> sql.Identifier:
        self.aliases += 1
        return sql.Identifier(f"t{self.aliases}")

    @staticmethod
    def table(entity: Entity) -> sql.Identifier:
        return ddl.table(entity)

    def pk(self, entity: Entity) -> Attribute:
        return self.schema.pk(entity)

    # --- nodes --------------------------------------------------------------------------------

    def node(self, node: Node, entity: Entity, alias: sql.Identifier) -> sql.Composable:
        if isinstance(node, Group):
            parts = [self.node(child, entity, alias) for child in node.children]
            if node.kind == "not":
                return sql.SQL("(({}) IS NOT TRUE)").format(parts[0])
            if not parts:
                return sql.SQL("TRUE")
            joiner = sql.SQL(" AND " if node.kind == "all" else " OR ")
            return sql.SQL("({})").format(joiner.join(parts))
        if isinstance(node, AttrCond):
            return self.attr(node, entity, alias)
        if isinstance(node, RelatedCond):
            return self.related(node, entity, alias)
        if isinstance(node, AudienceCond):
            return self.audience(node, entity, alias)
        raise TypeError(node)

    def attr(self, node: AttrCond, entity: Entity, alias: sql.Identifier) -> sql.Composable:
        if not node.links:
            return self.predicate(node, sql.SQL("{}.{}").format(alias, ddl.column(node.attribute)))
        # Through links: nested EXISTS semi-joins, one per many-to-one step.
        rel, rest = node.links[0], node.links[1:]
        parent = self.alias()
        inner = AttrCond(rest, node.attribute, node.op, node.value, node.unit, node.path)
        return sql.SQL("EXISTS (SELECT 1 FROM {table} {p} WHERE {p}.{pk} = {a}.{fk} AND {cond})").format(
            table=self.table(rel.target), p=parent, pk=ddl.column(self.pk(rel.target)), a=alias,
            fk=ddl.column(rel.attribute), cond=self.attr(inner, rel.target, parent))

    def predicate(self, node: AttrCond, c: sql.Composable) -> sql.Composable:
        op, value, attribute = node.op, node.value, node.attribute
        if attribute.type in TEXT_TYPES and op in ("eq", "ne", "in", "not_in"):
            return self.text_equality(op, value, c)
        simple = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        if op in simple:
            return sql.SQL("{} {} {}").format(c, sql.SQL(simple[op]), self.param(value))
        if op == "in":
            return sql.SQL("{} = ANY({})").format(c, self.param(value))
        if op == "not_in":
            return sql.SQL("{} <> ALL({})").format(c, self.param(value))
        if op == "between":
            return sql.SQL("{} BETWEEN {} AND {}").format(c, self.param(value[0]), self.param(value[1]))
        if op == "is_empty":
            if attribute.type in TEXT_TYPES:
                return sql.SQL("({c} IS NULL OR {c} = '')").format(c=c)
            return sql.SQL("{} IS NULL").format(c)
        if op == "is_not_empty":
            if attribute.type in TEXT_TYPES:
                return sql.SQL("({c} IS NOT NULL AND {c} <> '')").format(c=c)
            return sql.SQL("{} IS NOT NULL").format(c)
        if op == "is_true":
            return sql.SQL("{} = true").format(c)
        if op == "is_false":
            return sql.SQL("{} = false").format(c)
        if op == "contains":
            return sql.SQL("strpos({}, {}) > 0").format(c, self.param(value))
        if op == "not_contains":
            return sql.SQL("strpos({}, {}) = 0").format(c, self.param(value))
        if op == "starts_with":
            return sql.SQL("starts_with({}, {})").format(c, self.param(value))
        if op == "ends_with":
            return sql.SQL("right({}, {}) = {}").format(c, self.param(len(value)), self.param(value))
        if op in FOLDED:
            return self.folded(op, value, c)
        return self.dates(node, c)

    def text_equality(self, op: str, value: Any, c: sql.Composable) -> sql.Composable:
        """'' is the empty value (ingestion stores an empty cell as NULL): eq '' is is_empty,
        ne '' is is_not_empty, and '' in the list of `in` matches the empty values."""
        if op == "ne":
            op, value = "not_in", [value]
        if op == "not_in":  # never an empty value, the rule of every negative operator
            return sql.SQL("{} <> ALL({})").format(c, self.param([*value, ""] if "" not in value else value))
        if op == "eq":
            test = sql.SQL("{} = {}").format(c, self.param(value))
            return sql.SQL("({} OR {} IS NULL)").format(test, c) if value == "" else test
        test = sql.SQL("{} = ANY({})").format(c, self.param(value))
        return sql.SQL("({} OR {} IS NULL)").format(test, c) if "" in value else test

    def folded(self, op: str, value: str, c: sql.Composable) -> sql.Composable:
        """Case-insensitive operators fold BOTH sides with the same SQL function, so a row
        holding exactly the value always matches ("İstanbul", "ΠΑΠΑΔΟΠΟΥΛΟΣ")."""
        column, wanted = fold(c), fold(self.param(value))
        if op == "ieq":
            return sql.SQL("{} = {}").format(column, wanted)
        if op == "icontains":
            return sql.SQL("strpos({}, {}) > 0").format(column, wanted)
        if op == "istarts_with":
            return sql.SQL("starts_with({}, {})").format(column, wanted)
        # iends_with: the folded value's own length (folding may change a length)
        return sql.SQL("right({c}, length({v})) = {v}").format(c=column, v=wanted)

    def dates(self, node: AttrCond, c: sql.Composable) -> sql.Composable:
        op, value, is_date = node.op, node.value, node.attribute.type == "date"
        zone = self.zone
        if op in ("before", "after", "on"):
            if is_date:
                symbol = {"before": "<", "after": ">", "on": "="}[op]
                return sql.SQL("{} {} {}").format(c, sql.SQL(symbol), self.param(value))
            start, end = day_start(value, zone), day_start(value + dt.timedelta(days=1), zone)
            if op == "before":
                return sql.SQL("{} < {}").format(c, self.param(start))
            if op == "after":
                return sql.SQL("{} >= {}").format(c, self.param(end))
            return sql.SQL("({c} >= {s} AND {c} < {e})").format(c=c, s=self.param(start), e=self.param(end))
        anchor = self.today if is_date else self.local_now
        if op == "in_last":
            return sql.SQL("{} BETWEEN {} AND {}").format(
                c, self.param(shift(anchor, -value, node.unit)), self.param(anchor))
        if op == "in_next":
            return sql.SQL("{} BETWEEN {} AND {}").format(
                c, self.param(anchor), self.param(shift(anchor, value, node.unit)))
        if op == "more_than_ago":
            return sql.SQL("{} < {}").format(c, self.param(shift(anchor, -value, node.unit)))
        if op == "anniversary_in_next":
            window = anniversary_window(self.today, value)
            if window is None:
                return sql.SQL("{} IS NOT NULL").format(c)
            start, end = window
            local = c if is_date else sql.SQL("({} AT TIME ZONE {})").format(c, self.param(self.schema.workspace.time_zone))
            mmdd = sql.SQL("to_char({}, 'MMDD')").format(local)
            if start <= end:
                test = sql.SQL("{} BETWEEN {} AND {}").format(mmdd, self.param(start), self.param(end))
            else:
                test = sql.SQL("({m} >= {s} OR {m} <= {e})").format(m=mmdd, s=self.param(start), e=self.param(end))
            if leap_day_observed(self.today, value):
                test = sql.SQL("({} OR {} = '0229')").format(test, mmdd)
            return test
        raise ValueError(op)

    def related(self, node: RelatedCond, entity: Entity, alias: sql.Identifier) -> sql.Composable:
        rel = node.relationship
        child_entity = rel.source
        child = self.alias()
        fk = sql.SQL("{}.{}").format(child, ddl.column(rel.attribute))
        key = sql.SQL("{}.{}").format(alias, ddl.column(self.pk(entity)))
        where = self.node(node.where, child_entity, child) if node.where is not None else sql.SQL("TRUE")
        table = self.table(child_entity)
        if node.agg is None:
            query = sql.SQL("EXISTS (SELECT 1 FROM {t} {c} WHERE {fk} = {key} AND {where})").format(
                t=table, c=child, fk=fk, key=key, where=where)
            return query if node.exists else sql.SQL("NOT {}").format(query)
        measure = sql.SQL("count(*)") if node.agg == "count" else sql.SQL("{}({}.{})").format(
            sql.SQL(node.agg), child, ddl.column(node.attribute))
        if node.agg == "sum":
            measure = sql.SQL("coalesce({}, 0)").format(measure)
        if not self.zero_rows_can_match(node):
            # Keys without related rows cannot match: group the related rows once.
            compare = self.comparison(measure, node)
            # (No "fk IS NOT NULL" here: a NULL group equals no key anyway, and the filter
            # would stop the planner from reading the link index in order.)
            # The link index covers the measures and is ordered by the link: a streamed
            # GroupAggregate over it beats hashing a million groups, and a parallel plan
            # would rebuild the grouped side in every worker (measured on 3M bookings:
            # 3.4 s planner's choice, 0.7 s streamed).
            self.settings.update({"enable_hashagg": "off", "max_parallel_workers_per_gather": "0"})
            return sql.SQL("{key} IN (SELECT {fk} FROM {t} {c} WHERE {where} "
                           "GROUP BY {fk} HAVING {compare})").format(
                key=key, fk=fk, t=table, c=child, where=where, compare=compare)
        subquery = sql.SQL("(SELECT {m} FROM {t} {c} WHERE {fk} = {key} AND {where})").format(
            m=measure, t=table, c=child, fk=fk, key=key, where=where)
        if node.agg == "sum":
            subquery = sql.SQL("coalesce({}, 0)").format(subquery)
        return self.comparison(subquery, node)

    @staticmethod
    def zero_rows_can_match(node: RelatedCond) -> bool:
        """Would a key with no related rows match? (count/sum of none is 0, others empty.)"""
        if node.agg in ("avg", "min", "max"):
            return False
        zero = 0
        op, value = node.op, node.value
        if op == "between":
            return value[0] <= zero <= value[1]
        return {"eq": zero == value, "ne": zero != value, "lt": zero < value, "lte": zero <= value,
                "gt": zero > value, "gte": zero >= value}[op]

    def comparison(self, expr: sql.Composable, node: RelatedCond) -> sql.Composable:
        if node.op == "between":
            return sql.SQL("{} BETWEEN {} AND {}").format(expr, self.param(node.value[0]), self.param(node.value[1]))
        symbol = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[node.op]
        return sql.SQL("{} {} {}").format(expr, sql.SQL(symbol), self.param(node.value))

    def audience(self, node: AudienceCond, entity: Entity, alias: sql.Identifier) -> sql.Composable:
        audience = node.audience
        key = sql.SQL("{}.{}").format(alias, ddl.column(self.pk(entity)))
        if audience.is_list:
            members = sql.SQL("SELECT key FROM {}").format(
                sql.Identifier(workspace_schema(audience.workspace_id), audience.key_table))
        else:
            # Each saved audience once per query, however often the rules refer to it (ten
            # levels of any[in X, in X] would otherwise be 1,024 copies): a common table
            # expression, defined before the ones that use it.
            members = sql.SQL("SELECT key FROM {}").format(self.saved(audience, node.definition))
        test = sql.SQL("{} IN ({})").format(key, members)
        return sql.SQL("NOT {}").format(test) if node.negate else test

    def saved(self, audience, definition: Definition) -> sql.Identifier:
        name = sql.Identifier(f"audience_{audience.pk}")
        if audience.pk not in self.ctes:
            inner = Compiler(self.schema, self.now, self.params, self.aliases + 100, self.settings, self.ctes)
            body = inner.keys(definition)
            self.aliases = inner.aliases
            self.ctes[audience.pk] = (name, body)
        return name

    def statement(self, query: sql.Composable) -> sql.Composable:
        """The query with the saved audiences its rules use; every query built from
        compiled nodes goes through here."""
        if not self.ctes:
            return query
        defined = sql.SQL(", ").join(sql.SQL("{} (key) AS ({})").format(name, body)
                                     for name, body in self.ctes.values())
        return sql.SQL("WITH {} {}").format(defined, query)

    # --- whole queries ------------------------------------------------------------------------

    def where(self, definition: Definition, alias: sql.Identifier) -> sql.Composable:
        if definition.rule is None:
            return sql.SQL("TRUE")
        return self.node(definition.rule, definition.entity, alias)

    def keys(self, definition: Definition) -> sql.Composable:
        """SELECT <key> FROM <result entity>: each key once, also after changes of dimension."""

        def base(alias: sql.Identifier) -> sql.Composable:
            return self.where(definition, alias)

        predicate, entity = base, definition.entity
        for rel, direction in definition.dimension:
            predicate, entity = self.step(predicate, entity, rel, direction), (
                rel.target if direction == "up" else rel.source)
        alias = self.alias()
        return sql.SQL("SELECT {a}.{pk} FROM {t} {a} WHERE {w}").format(
            a=alias, pk=ddl.column(self.pk(entity)), t=self.table(entity), w=predicate(alias))

    def step(self, inner, entity: Entity, rel, direction: str):
        """A predicate on the next entity: 'some row of `entity` matching `inner` links here'."""

        def predicate(alias: sql.Identifier) -> sql.Composable:
            row = self.alias()
            if direction == "up":  # bookings -> their customers
                link = sql.SQL("{r}.{fk} = {a}.{pk}").format(
                    r=row, fk=ddl.column(rel.attribute), a=alias, pk=ddl.column(self.pk(rel.target)))
            else:  # customers -> their bookings
                link = sql.SQL("{r}.{pk} = {a}.{fk}").format(
                    r=row, pk=ddl.column(self.pk(entity)), a=alias, fk=ddl.column(rel.attribute))
            return sql.SQL("EXISTS (SELECT 1 FROM {t} {r} WHERE {link} AND {w})").format(
                t=self.table(entity), r=row, link=link, w=inner(row))

        return predicate


@dataclass
class Query:
    sql: str
    params: dict[str, Any]
    entity: Entity  # the entity of the keys
    key: Attribute
    settings: dict[str, str] = field(default_factory=dict)  # SET LOCAL these when running it


def compile_definition(definition: Definition, *, now: dt.datetime | None = None, shape: str = "keys") -> Query:
    """shape: "keys" (SELECT key ...), "count" (SELECT count(*) ...)."""
    from apps.core.sqlutil import render  # noqa: PLC0415

    compiler = Compiler(definition.schema, now or timezone.now())
    keys = compiler.keys(definition)
    pk = compiler.pk(definition.result_entity)
    if shape == "count":
        query = sql.SQL("SELECT count(*) FROM ({}) k").format(keys)
    else:
        query = keys
    query = compiler.statement(query)
    return Query(sql=render(query), params=compiler.params, entity=definition.result_entity, key=pk,
                 settings=compiler.settings)
