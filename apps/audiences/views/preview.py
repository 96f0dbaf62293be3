"""What a rule matches, on request: the live count, a sample of records, the generated
SQL, the top values of an attribute, the count of each condition of a group. Each takes
the rule's JSON in the body (the builder's current rule, or a saved audience's) and only
reads: a viewer may use them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import DatabaseError
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from apps.audiences.rules.definition import RuleError, check_definition
from apps.datamodel.schema import Schema
from apps.tenants.decorators import workspace_view

from .. import selectors
from ._common import VIEWER
from ._display import Display, valid_path
from ._rules import Editor
from ._sentences import Sentences
from ._tree import DefinitionError, load_definition, node_at

PARTIALS = "audiences/_preview.html"
# A live count answers while the user edits: past this it gives up and says so.
LIVE_COUNT_TIMEOUT_MS = 15_000
SAMPLE_COLUMNS = 8


# The field holding the rule: "definition" in the builder; a canvas panel holding several
# rules names its own ("s0-definition") and the tools it draws say which.
RULE_FIELD = re.compile(r"^[a-z0-9-]{0,12}definition$")


def rule_field(request) -> str:
    name = request.POST.get("rule_field") or "definition"
    return name if RULE_FIELD.match(name) else "definition"


class Refused(Exception):
    def __init__(self, problems: list[dict]):
        self.problems = problems


def _checked(request, *, schema: Schema | None = None):
    """(definition JSON, checked definition) from the body; Refused with the problems."""
    try:
        definition = load_definition(request.POST.get(rule_field(request)))
    except DefinitionError as exc:
        raise Refused([{"path": "definition", "message": str(exc)}]) from None
    visiting = None
    try:
        visiting = {int(request.POST["audience"])}  # the audience being edited may not refer to itself
    except (KeyError, TypeError, ValueError):
        pass
    try:
        return definition, check_definition(workspace=request.workspace, definition=definition, schema=schema,
                                            visiting=visiting)
    except RuleError as exc:
        raise Refused(exc.problems) from None


def _render(request, partial: str, context: dict, status: int = 200):
    response = render(request, f"{PARTIALS}#{partial}", context, status=status)
    add_never_cache_headers(response)
    return response


def _failed(request, partial: str, exc: Exception, **extra):
    if isinstance(exc, Refused):
        return _render(request, partial, {"problems": exc.problems, **extra})
    # A statement timeout or a database error: the rule is valid but could not be evaluated.
    return _render(request, partial, {"error": "The database gave up on this rule (it took too long). "
                                               "Narrow it, or save it and take a snapshot.", **extra})


@require_POST
@workspace_view(write_role=VIEWER)
def live_count(request, workspace_slug):
    """How many records the rule matches now, and how long PostgreSQL took; or what is
    wrong with the rule, each problem with the number of its condition in the builder."""
    schema = Schema.load(request.workspace)
    try:
        definition, checked = _checked(request, schema=schema)
        result = selectors.count(definition=checked, timeout_ms=LIVE_COUNT_TIMEOUT_MS)
    except Refused as exc:
        try:
            definition = load_definition(request.POST.get(rule_field(request)))
        except DefinitionError:
            return _failed(request, "live-count", exc)
        display = Display(schema, definition, problems=exc.problems, show_missing=True)
        numbered = display.numbered_problems()
        if len(display.waiting) == len(numbered):
            # Only empty value boxes (a condition just added): a note, not an alarm.
            waiting = [p["label"].removeprefix("Condition ") for p in numbered]
            return _render(request, "live-count", {"waiting": [w for w in waiting if w]})
        return _failed(request, "live-count", Refused(numbered))
    except DatabaseError as exc:
        return _failed(request, "live-count", exc)
    return _render(request, "live-count", {"result": result, "entity": checked.result_entity})


def _cell(value: Any) -> dict[str, Any]:
    if value is None:
        kind = "null"
    elif isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, dt.datetime):
        kind = "datetime"
    elif isinstance(value, dt.date):
        kind = "date"
    elif isinstance(value, (int, float, Decimal)):
        kind = "number"
    else:
        kind = "text"
    return {"value": value, "kind": kind}


@require_POST
@workspace_view(write_role=VIEWER)
def sample(request, workspace_slug):
    """The first records the rule matches (by key), a few columns each."""
    try:
        _, checked = _checked(request)
        rows = selectors.sample(definition=checked, limit=selectors.SAMPLE_SIZE)
    except (Refused, DatabaseError) as exc:
        return _failed(request, "sample", exc)
    entity = checked.result_entity
    attributes = list(checked.schema.attributes[entity.pk].values())[:SAMPLE_COLUMNS]
    pk = checked.schema.pk(entity)
    slug = request.workspace.slug
    table = [{"href": reverse("data-record", kwargs={"workspace_slug": slug, "entity_key": entity.key,
                                                     "key": str(row[pk.key])}),
              "cells": [_cell(row.get(a.key)) for a in attributes]} for row in rows]
    return _render(request, "sample", {"entity": entity, "columns": attributes, "rows": table})


@require_POST
@workspace_view(write_role=VIEWER)
def show_sql(request, workspace_slug):
    """The one query the rule compiles to, values inline (it is never run from here)."""
    try:
        _, checked = _checked(request)
    except Refused as exc:
        return _failed(request, "sql", exc)
    return _render(request, "sql", {"sql": selectors.explain_sql(definition=checked)})


@require_POST
@workspace_view(write_role=VIEWER)
def distribution(request, workspace_slug):
    """The top 20 values of an attribute. With `node` (a condition's path): over every
    record of the attribute's entity, each value a button that puts it in the condition;
    without: over the records the rule matches."""
    attribute = request.POST.get("attribute", "")
    node_path = request.POST.get("node", "")
    schema = Schema.load(request.workspace)
    if node_path:
        return _value_distribution(request, schema, node_path)
    try:
        _, checked = _checked(request, schema=schema)
        values = selectors.distribution(definition=checked, attribute=attribute)
    except RuleError as exc:  # an attribute the result entity does not have
        return _failed(request, "distribution", Refused(exc.problems))
    except (Refused, DatabaseError) as exc:
        return _failed(request, "distribution", exc)
    label = schema.attributes[checked.result_entity.pk][attribute].label or attribute
    return _render(request, "distribution", {"values": _bars(values, request.workspace.zone), "attribute": label})


def _bars(values: list[dict], zone=None) -> list[dict]:
    top = max((v["count"] for v in values), default=0) or 1
    return [{**v, "text": _text(v["value"], zone), "percent": round(100 * v["count"] / top)} for v in values]


def _text(value: Any, zone) -> str | None:
    """A value as the builder would type it (ISO dates, the workspace's local time)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value_distribution(request, schema: Schema, node_path: str):
    try:
        definition = load_definition(request.POST.get(rule_field(request)))
    except DefinitionError as exc:
        return _failed(request, "value-distribution", Refused([{"path": "definition", "message": str(exc)}]))
    editor = Editor(schema, definition)
    entity = editor.entity_at(node_path) if valid_path(node_path) else None
    node = node_at(definition, node_path) if entity is not None else None
    if not isinstance(node, dict) or not isinstance(node.get("attr"), str) or "related" in node:
        return _failed(request, "value-distribution", Refused([{"path": node_path, "message": "is not a condition "
                                                                                              "on an attribute."}]))
    *links, key = node["attr"].split(".")
    owner = entity
    for link in links:
        rel = schema.outgoing[owner.pk].get(link)
        if rel is None:
            return _failed(request, "value-distribution", Refused([{"path": node_path, "message": "unknown link."}]))
        owner = rel.target
    try:
        every = check_definition(workspace=request.workspace, definition={"entity": owner.key}, schema=schema)
        values = selectors.distribution(definition=every, attribute=key)
    except RuleError as exc:
        return _failed(request, "value-distribution", Refused(exc.problems))
    except DatabaseError as exc:
        return _failed(request, "value-distribution", exc)
    attribute = schema.attributes[owner.pk][key]
    return _render(request, "value-distribution", {
        "values": _bars(values, request.workspace.zone), "node_path": node_path, "entity": owner,
        "p": rule_field(request).removesuffix("definition"),
        "pickable": attribute.type != "datetime" and node.get("op") not in (
            "before", "after", "on", "between", "in_last", "in_next", "more_than_ago", "anniversary_in_next",
            "is_empty", "is_not_empty")})


@require_POST
@workspace_view(write_role=VIEWER)
def group_counts(request, workspace_slug):
    """For one group: how many records each of its conditions matches alone, and the group."""
    path = request.POST.get("path", "rule")
    schema = Schema.load(request.workspace)
    try:
        definition, _ = _checked(request, schema=schema)
        counts = selectors.group_counts(workspace=request.workspace, definition=definition, path=path)
    except RuleError as exc:
        return _failed(request, "group-counts", Refused(exc.problems))
    except (Refused, DatabaseError) as exc:
        return _failed(request, "group-counts", exc)
    entity = Editor(schema, definition).entity_at(path)
    names = dict(selectors.audience_list(workspace=request.workspace).values_list("pk", "name"))
    sentences = Sentences(schema, audience_names=names)
    rows = []
    for item in counts:
        node = node_at(definition, item["path"])
        text = "The whole group" if item["path"] == path else sentences.line(node, entity)
        rows.append({"text": text, "count": item["count"], "whole": item["path"] == path})
    return _render(request, "group-counts", {"rows": rows, "path": path})
