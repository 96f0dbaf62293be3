"""Reads of audiences: evaluate a definition (count, sample, distribution, per-group
counts, the SQL), and the keys of a saved audience for campaigns and exports."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from psycopg import sql

from apps.audiences.rules.definition import Definition, RuleError, check_definition
from apps.core.sqlutil import render, workspace_schema
from apps.datamodel import ddl
from apps.datamodel.schema import Schema
from apps.tenants.models import Workspace

from .models import Audience
from .rules.compiler import Compiler, Query, compile_definition

# Interactive evaluation must not hold the database: a live count gives up after this.
COUNT_TIMEOUT_MS = 30_000
AUDIENCE_WORK_MEM = "256MB"
SAMPLE_SIZE = 20
DISTRIBUTION_SIZE = 20


def audience_list(*, workspace: Workspace) -> QuerySet[Audience]:
    return Audience.objects.filter(workspace=workspace).select_related("entity", "created_by", "updated_by")


def access_audience(actor: Any, workspace: Workspace, pk: Any) -> Audience:
    try:
        return audience_list(workspace=workspace).get(pk=pk)
    except (Audience.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def definition_of(audience: Audience, schema: Schema | None = None) -> Definition:
    """The checked definition of a saved audience. A list (upload, snapshot) is 'every
    row of its entity that is in the list'."""
    if audience.is_list:
        return check_definition(workspace=audience.workspace, schema=schema,
                                definition={"entity": audience.entity.key, "rule": {"in_audience": audience.pk}})
    return check_definition(workspace=audience.workspace, definition=audience.definition, schema=schema)


def apply_settings(cursor, settings: dict[str, str], *, timeout_ms: int | None = None) -> None:
    """SET LOCAL the work memory, the timeout and the compiler's planner settings."""
    values = {"work_mem": AUDIENCE_WORK_MEM, **settings}
    if timeout_ms is not None:
        values["statement_timeout"] = str(timeout_ms)
    for name, value in values.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _run(query: str, params: dict, *, timeout_ms: int = COUNT_TIMEOUT_MS, fetch: str = "all",
         settings: dict[str, str] | None = None):
    with transaction.atomic(), connection.cursor() as cursor:
        apply_settings(cursor, settings or {}, timeout_ms=timeout_ms)
        cursor.execute(query, params)
        return cursor.fetchone() if fetch == "one" else cursor.fetchall()


@dataclass
class Count:
    count: int
    ms: int
    sql: str
    params: dict[str, Any]
    entity: str
    settings: dict[str, str] | None = None


def count(*, definition: Definition, now: dt.datetime | None = None, timeout_ms: int = COUNT_TIMEOUT_MS) -> Count:
    query = compile_definition(definition, now=now, shape="count")
    started = time.perf_counter()
    (value,) = _run(query.sql, query.params, timeout_ms=timeout_ms, fetch="one", settings=query.settings)
    return Count(count=int(value), ms=int((time.perf_counter() - started) * 1000), sql=query.sql,
                 params=query.params, entity=query.entity.key, settings=query.settings)


def keys_query(*, definition: Definition, now: dt.datetime | None = None) -> Query:
    """SELECT <key> ... for campaigns (a working table is built from it) and exports."""
    return compile_definition(definition, now=now, shape="keys")


def sample(*, definition: Definition, limit: int = SAMPLE_SIZE, now: dt.datetime | None = None) -> list[dict]:
    """A few matching records with all their attributes (first keys in key order)."""
    query = compile_definition(definition, now=now, shape="keys")
    entity = query.entity
    attributes = list(definition.schema.attributes[entity.pk].values())
    wrapped = sql.SQL("SELECT {cols} FROM {t} r WHERE r.{pk} IN ({keys}) ORDER BY r.{pk} LIMIT {n}").format(
        cols=sql.SQL(", ").join(sql.SQL("r.{}").format(ddl.column(a)) for a in attributes),
        t=ddl.table(entity), pk=ddl.column(query.key), keys=sql.SQL(query.sql), n=sql.Literal(int(limit)))
    rows = _run(render(wrapped), query.params, settings=query.settings)
    return [dict(zip([a.key for a in attributes], row, strict=True)) for row in rows]


def distribution(*, definition: Definition, attribute: str, limit: int = DISTRIBUTION_SIZE,
                 now: dt.datetime | None = None) -> list[dict]:
    """The top values of an attribute of the matching records, with their counts."""
    query = compile_definition(definition, now=now, shape="keys")
    entity = query.entity
    attr = definition.schema.attributes[entity.pk].get(attribute)
    if attr is None:
        raise RuleError([{"path": "attribute", "message": f"{entity.key} has no attribute {attribute!r}."}])
    wrapped = sql.SQL("SELECT r.{c}, count(*) FROM {t} r WHERE r.{pk} IN ({keys}) GROUP BY r.{c} "
                      "ORDER BY count(*) DESC, r.{c} NULLS LAST LIMIT {n}").format(
        c=ddl.column(attr), t=ddl.table(entity), pk=ddl.column(query.key), keys=sql.SQL(query.sql),
        n=sql.Literal(int(limit)))
    return [{"value": value, "count": int(n)}
            for value, n in _run(render(wrapped), query.params, settings=query.settings)]


def group_counts(*, workspace: Workspace, definition: dict, path: str = "rule",
                 now: dt.datetime | None = None) -> list[dict]:
    """For the group at `path` (e.g. "rule.all[1]"): the count of each of its conditions
    alone, and of the group. Keys are counted on the rule's own entity."""
    # The whole definition first: a problem is reported at its path in the whole rule.
    check_definition(workspace=workspace, definition=definition)
    node = _node_at(definition.get("rule"), path)
    if not isinstance(node, dict) or not any(k in node for k in ("all", "any", "not")):
        raise RuleError([{"path": path, "message": "is not a group (all, any or not)."}])
    kind = next(k for k in ("all", "any", "not") if k in node)
    children = node[kind] if kind != "not" else [node["not"]]
    out = []
    for index, child in enumerate(children):
        sub = check_definition(workspace=workspace, definition={"entity": definition.get("entity"), "rule": child})
        child_path = f"{path}.{kind}[{index}]" if kind != "not" else f"{path}.not"
        out.append({"path": child_path, "count": count(definition=sub, now=now).count})
    whole = check_definition(workspace=workspace, definition={"entity": definition.get("entity"), "rule": node})
    out.append({"path": path, "count": count(definition=whole, now=now).count})
    return out


def _node_at(rule: Any, path: str) -> Any:
    """The node at a path like "rule.all[1].not" (groups only: conditions under a
    `related` node count rows of another entity), or None."""
    if not isinstance(path, str) or not re.fullmatch(r"rule(?:\.(?:all|any)\[\d{1,4}\]|\.not)*", path):
        return None
    node = rule
    for name, index in re.findall(r"\.(all|any|not)(?:\[(\d+)\])?", path):
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    return node


def explain_sql(*, definition: Definition, now: dt.datetime | None = None) -> str:
    """The generated SQL with the values shown inline, for the curious (never executed)."""
    query = compile_definition(definition, now=now, shape="keys")
    return inline_params(query.sql, query.params)


def inline_params(text: str, params: dict[str, Any]) -> str:
    """The query with its bound values merged in by psycopg, in one pass (replacing the
    placeholders one by one would read a value holding '%(p0)s' as a placeholder)."""
    connection.ensure_connection()
    return psycopg.ClientCursor(connection.connection).mogrify(text, params)


def audience_usages(audience: Audience) -> list[str]:
    """What uses this audience (other audiences' rules; campaigns register themselves in
    USAGE_PROVIDERS), as sentences for a 'cannot delete' message."""
    uses = []
    for other in Audience.objects.filter(workspace=audience.workspace, origin="rule").exclude(pk=audience.pk):
        if _refers_to(other.definition.get("rule"), audience.pk):
            uses.append(f"the audience {other.name!r}")
    for provider in USAGE_PROVIDERS:
        uses.extend(provider(audience))
    return uses


USAGE_PROVIDERS: list = []


def _refers_to(node: Any, audience_id: int) -> bool:
    if isinstance(node, dict):
        if node.get("in_audience") == audience_id or node.get("not_in_audience") == audience_id:
            return True
        return any(_refers_to(v, audience_id) for v in node.values())
    if isinstance(node, list):
        return any(_refers_to(v, audience_id) for v in node)
    return False


def key_table(audience: Audience) -> sql.Identifier:
    return sql.Identifier(workspace_schema(audience.workspace_id), audience.key_table)


__all__ = ["Compiler", "Count", "count", "sample", "distribution", "group_counts", "explain_sql", "keys_query",
           "definition_of", "access_audience", "audience_list", "audience_usages", "key_table", "USAGE_PROVIDERS"]
