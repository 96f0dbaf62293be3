"""What every activity is: its inputs, its outlets, how its settings are checked against
the data model, and how it turns input working tables into output working tables.

A working table holds one column `key` (the target entity's key) plus, later, enrichment
columns; it is UNLOGGED and lives in the workspace schema as `_run<run>_<node>_<outlet>`.
Activities rebuild their tables from scratch each time they run (DROP ... CREATE ...),
so a retried activity never appends to a half-built table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import connection
from psycopg import sql

from apps.core.sqlutil import render, workspace_schema
from apps.datamodel import ddl
from apps.datamodel.models import Entity
from apps.datamodel.schema import Schema


class SettingsError(Exception):
    """A problem with an activity's settings, in words for the marketer."""


class Sleep(Exception):  # a signal to the executor, not an error
    """Raised by an activity that must wait until `until` (a durable timer in the database:
    never a long Celery countdown, which Redis would deliver twice past its visibility timeout)."""

    def __init__(self, until):
        super().__init__(f"sleeping until {until.isoformat()}")
        self.until = until


@dataclass
class Outlet:
    """An input or output set of rows: a working table of keys of `entity`."""

    table: str
    entity: str
    count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "entity": self.entity, "count": self.count}


@dataclass
class Context:
    """What an activity sees when it runs."""

    workspace: Any
    run: Any
    activity_run: Any
    node: dict[str, Any]
    inputs: list[Outlet]  # in edge order
    schema: Schema
    test_mode: bool
    log: list[dict[str, Any]] = field(default_factory=list)

    def table_name(self, outlet: str) -> str:
        return f"_run{self.run.pk}_{self.node['id']}_{outlet}"[:63]

    def ident(self, table: str) -> sql.Identifier:
        return sql.Identifier(workspace_schema(self.workspace.pk), table)

    def entity(self, key: str) -> Entity:
        return self.schema.entities[key]

    def key_type(self, entity_key: str) -> sql.SQL:
        return ddl.sql_type(self.schema.pk(self.entity(entity_key)).type)

    def execute(self, query: sql.Composable | str, params: Any = None) -> int:
        """Run one statement, logged with its SQL and duration."""
        text = render(query) if not isinstance(query, str) else query
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(text, params)
            rows = cursor.rowcount
        self.log.append({"sql": text, "ms": round((time.perf_counter() - started) * 1000, 1), "rows": rows})
        return rows

    def scalar(self, query: sql.Composable | str, params: Any = None) -> Any:
        text = render(query) if not isinstance(query, str) else query
        with connection.cursor() as cursor:
            cursor.execute(text, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def create_table(self, outlet: str, entity_key: str, select: sql.Composable | str, params: Any = None) -> Outlet:
        """(Re)build a working table of keys from a SELECT returning one key column."""
        name = self.table_name(outlet)
        target = self.ident(name)
        self.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        select_sql = sql.SQL(select) if isinstance(select, str) else select
        # Every select an activity hands in returns each key once (keys of an entity
        # table, or set operations), so no DISTINCT pass is needed.
        count = self.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT k.key FROM ({}) AS k(key)").format(
            target, select_sql), params)
        self.execute(sql.SQL("ANALYZE {}").format(target))
        return Outlet(table=name, entity=entity_key, count=count)

    def subset(self, outlet: str, source: Outlet, keys: sql.Composable, params: Any = None) -> Outlet:
        """(Re)build a working table of the source rows whose keys `keys` selects, with all
        the source's columns (enrichment travels through splits and filters)."""
        name = self.table_name(outlet)
        target = self.ident(name)
        self.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        count = self.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT w.* FROM {} w WHERE w.key IN ({})").format(
            target, self.ident(source.table), keys), params)
        self.execute(sql.SQL("ANALYZE {}").format(target))
        return Outlet(table=name, entity=source.entity, count=count)

    def keys_of(self, outlet: Outlet) -> sql.Composable:
        return sql.SQL("SELECT key FROM {}").format(self.ident(outlet.table))


class Activity:
    """Subclasses set `type`, `label`, the number of inputs, and implement `outlets`,
    `check` and `run`. The attributes from `sends` on and the hooks after `run` are how an
    app above campaigns (channels) tells campaigns what its activities need, so campaigns
    never names them."""

    type: ClassVar[str]
    label: ClassVar[str]
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    is_start: ClassVar[bool] = False
    sends: ClassVar[bool] = False  # a channel activity: waits for a live run's confirmation, coloured as one
    # Where the palette and GET .../activity-types/ list it: lower first, equal ones in the
    # order they registered.
    catalog_order: ClassVar[int] = 100
    # What the type adds to the served definition schema: a JSON Schema its nodes'
    # `settings` must also match (a rule in the node's allOf, with this description), and
    # the $defs that schema refers to.
    settings_schema: ClassVar[dict[str, Any] | None] = None
    settings_schema_description: ClassVar[str] = ""
    schema_defs: ClassVar[dict[str, Any]] = {}
    # A template drawing the activity's report on the run page (it sees `row`, with
    # row.report and row.report_details, and `a`, the ActivityRun).
    report_template: ClassVar[str | None] = None

    def outlets(self, settings: dict[str, Any]) -> list[str]:
        return ["out"]

    def outlet_labels(self, settings: dict[str, Any]) -> dict[str, str]:
        """Words for outlets whose name alone says too little (the canvas shows them on the
        edges and in the outlet choices); an outlet left out is shown by its name."""
        return {}

    def outlet_label(self, settings: dict[str, Any], outlet: str) -> str:
        return self.outlet_labels(settings).get(outlet, outlet)

    def check(self, settings: dict[str, Any], input_entities: list[str], schema: Schema) -> dict[str, str]:
        """Validate settings; return {outlet: entity key} of what each outlet will hold.
        Raise SettingsError with a sentence when something is wrong."""
        return {outlet: input_entities[0] for outlet in self.outlets(settings)}

    def publish_check(self, settings: dict[str, Any], input_entities: list[str], schema: Schema) -> None:
        """What publishing demands beyond `check` (a live run needs it, a test run not);
        raise SettingsError."""

    def run(self, ctx: Context) -> dict[str, Outlet]:
        raise NotImplementedError

    def schema_message(self, error: Any) -> str | None:
        """Words for a schema error (a jsonschema ValidationError) inside a node of this
        type; None keeps the generic words."""
        return None

    def report_details(self, report: dict[str, Any]) -> dict[str, Any]:
        """What report_template shows beyond the report itself (the words for its figures)."""
        return {}


# The registered activities by type, in catalog order. Campaigns' own register when
# apps.campaigns.activities is imported; apps above campaigns register theirs in their
# AppConfig.ready() (channels: its message-sending activities).
REGISTRY: dict[str, Activity] = {}


def register(cls: type[Activity]) -> type[Activity]:
    """Register an activity class (a decorator too); registering a type again replaces it
    in place."""
    REGISTRY[cls.type] = cls()
    ordered = sorted(REGISTRY.items(), key=lambda item: item[1].catalog_order)  # stable: ties keep their order
    REGISTRY.clear()
    REGISTRY.update(ordered)
    return cls
