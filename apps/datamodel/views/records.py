"""The data browser: an entity's records as a sortable, filterable table with keyset
pagination, and a record page with its related records in both directions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import go, render_region
from apps.tenants.decorators import can_edit, workspace_view

from .. import services
from ..record_sections import sections_for
from ..selectors import (
    access_entity,
    display_name,
    record_get,
    record_links,
    records_page,
    records_total,
    relationship_list,
)

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_TRAIL = 100  # previous-page cursors kept in the URL; deeper, "Previous" stops there
TEXT_CELL_CHARS = 80
CHILD_COLUMNS = 5  # columns of related records shown on a record page
WIDE_AFTER = 8  # past this many columns the records table is wider than a laptop's window
OPERATORS = [
    ("eq", "="), ("ne", "≠"), ("lt", "<"), ("lte", "≤"), ("gt", ">"), ("gte", "≥"),
    ("contains", "contains"), ("startswith", "starts with"), ("in", "is one of"),
    ("isnull", "is empty"), ("notnull", "is not empty"),
]
NO_VALUE_OPS = {"isnull", "notnull"}


@dataclass
class Cell:
    value: Any
    kind: str  # null | bool | datetime | date | number | text
    href: str = ""  # a link column: the parent record's page
    title: str = ""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    return "text"


def record_url(workspace_slug: str, entity_key: str, key: Any) -> str:
    return reverse("data-record", kwargs={"workspace_slug": workspace_slug, "entity_key": entity_key, "key": str(key)})


def _cell(value: Any, *, href: str = "") -> Cell:
    kind = _kind(value)
    if kind == "text" and len(str(value)) > TEXT_CELL_CHARS:
        return Cell(str(value)[:TEXT_CELL_CHARS - 1] + "…", kind, href, title=str(value))
    return Cell(value, kind, href)


def _table(workspace_slug: str, entity, columns, rows, targets: dict[str, str]) -> list[dict[str, Any]]:
    """Rows as cells; a link column's value links to the record it points to."""
    pk = next(c for c in columns if c.is_primary_key)
    out = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            href = ""
            if column.key in targets and value is not None:
                href = record_url(workspace_slug, targets[column.key], value)
            cells.append(_cell(value, href=href))
        out.append({"key": row[pk.key], "href": record_url(workspace_slug, entity.key, row[pk.key]), "cells": cells})
    return out


@dataclass
class Query:
    """The browser's state, all in the query string so every view has a URL."""

    filters: list[tuple[str, str, str]]
    sort: str
    desc: bool
    size: int
    cursor: str
    trail: list[str]  # the cursors of the pages before this one ("" is the first page)

    @classmethod
    def parse(cls, params) -> Query:
        keys, ops, values = params.getlist("f"), params.getlist("op"), params.getlist("v")
        filters = []
        for i, key in enumerate(keys):
            op = ops[i] if i < len(ops) else "eq"
            value = values[i] if i < len(values) else ""
            if not key or (value == "" and op not in NO_VALUE_OPS):
                continue
            filters.append((key, op, "" if op in NO_VALUE_OPS else value))
        try:
            size = int(params.get("size", DEFAULT_PAGE_SIZE))
        except ValueError:
            size = DEFAULT_PAGE_SIZE
        return cls(filters=filters, sort=params.get("sort", ""), desc=params.get("dir") == "desc",
                   size=size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE, cursor=params.get("cursor", ""),
                   trail=params.getlist("prev")[-MAX_TRAIL:])

    def url(self, base: str, **changes: Any) -> str:
        state = {"filters": self.filters, "sort": self.sort, "desc": self.desc, "size": self.size,
                 "cursor": self.cursor, "trail": self.trail, **changes}
        pairs: list[tuple[str, Any]] = []
        for key, op, value in state["filters"]:
            pairs += [("f", key), ("op", op), ("v", value)]
        if state["sort"]:
            pairs.append(("sort", state["sort"]))
        if state["desc"]:
            pairs.append(("dir", "desc"))
        if state["size"] != DEFAULT_PAGE_SIZE:
            pairs.append(("size", state["size"]))
        pairs += [("prev", c) for c in state["trail"]]
        if state["cursor"]:
            pairs.append(("cursor", state["cursor"]))
        return f"{base}?{urlencode(pairs)}" if pairs else base


@vary_on_headers("HX-Request")
@require_GET
@workspace_view()
def records(request, workspace_slug, entity_key):
    """One page of an entity's records."""
    entity = access_entity(request.user, request.workspace, entity_key)
    base = reverse("data-records", kwargs={"workspace_slug": workspace_slug, "entity_key": entity.key})
    query = Query.parse(request.GET)
    columns = list(entity.attributes.all())
    targets = {r.attribute.key: r.target.key for r in relationship_list(workspace=request.workspace).filter(
        source=entity)}
    error = ""
    page, total, estimated = None, 0, False
    try:
        page = records_page(entity=entity, filters=query.filters, sort=query.sort or None, descending=query.desc,
                            cursor=query.cursor or None, limit=query.size)
        total, estimated = records_total(entity=entity, filters=query.filters)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    first_row = len(query.trail) * query.size + 1
    sort_key = query.sort or next(c.key for c in columns if c.is_primary_key)
    headers = [{"attribute": c, "sorted": c.key == sort_key, "desc": query.desc and c.key == sort_key,
                "href": query.url(base, sort=c.key, desc=c.key == sort_key and not query.desc, cursor="", trail=[])}
               for c in columns]
    filters = [{"key": k, "op": op, "value": v, "remove": query.url(
        base, filters=[f for j, f in enumerate(query.filters) if j != i], cursor="", trail=[])}
        for i, (k, op, v) in enumerate(query.filters)]
    context = {
        "entity": entity, "columns": columns, "headers": headers, "filters": filters, "query": query,
        "rows": _table(workspace_slug, entity, columns, page.rows, targets) if page else [],
        "total": total, "estimated": estimated, "error": error, "wide_after": WIDE_AFTER, "operators": OPERATORS, "page_sizes": PAGE_SIZES,
        "first_row": first_row, "last_row": first_row + len(page.rows) - 1 if page else 0,
        "page_number": len(query.trail) + 1,
        "next_url": query.url(base, cursor=page.next_cursor, trail=[*query.trail, query.cursor])
        if page and page.next_cursor else "",
        "prev_url": query.url(base, cursor=query.trail[-1], trail=query.trail[:-1]) if query.trail else "",
        "first_url": query.url(base, cursor="", trail=[]) if query.cursor else "",
        "clear_url": base if query.filters else "",
        "base_url": base,
        "can_edit": can_edit(request),
        "section": "model",
    }
    return render_region(request, "datamodel/records.html", context, ("records-panel",))


@require_GET
@workspace_view()
def record(request, workspace_slug, entity_key, key):
    """A record's attributes, the records it points to and the records that point to it."""
    ws = request.workspace
    entity = access_entity(request.user, ws, entity_key)
    row = record_get(entity=entity, key=key)
    outgoing, incoming = record_links(entity=entity, record=row)
    attributes = list(entity.attributes.all())
    link_by_column = {link.relationship.attribute.key: link for link in outgoing}
    fields = []
    for attribute in attributes:
        value = row.get(attribute.key)
        link = link_by_column.get(attribute.key)
        href = record_url(workspace_slug, link.entity.key, value) if link and link.record else ""
        fields.append({"attribute": attribute, "cell": Cell(value, _kind(value), href)})
    parents = []
    for link in outgoing:
        summary = []
        if link.record:
            parent_attrs = [a for a in link.entity.attributes.all() if not a.is_primary_key][:CHILD_COLUMNS]
            summary = [(a, _cell(link.record.get(a.key))) for a in parent_attrs]
        parents.append({"link": link, "summary": summary,
                        "name": display_name(entity=link.entity, record=link.record) if link.record else "",
                        "href": record_url(workspace_slug, link.entity.key, link.key) if link.record else ""})
    children = []
    for link in incoming:
        child_attrs = list(link.entity.attributes.all())
        shown = [a for a in child_attrs if a.is_primary_key] + [
            a for a in child_attrs if not a.is_primary_key and a.key != link.relationship.attribute.key][:CHILD_COLUMNS]
        all_url = reverse("data-records", kwargs={"workspace_slug": workspace_slug, "entity_key": link.entity.key})
        all_url += "?" + urlencode([("f", link.relationship.attribute.key), ("op", "eq"), ("v", key)])
        children.append({"link": link, "columns": shown, "hidden_columns": len(child_attrs) - len(shown) - 1,
                         "rows": _table(workspace_slug, link.entity, shown, link.records or [], {}),
                         "all_url": all_url})
    return render(request, "datamodel/record.html", {
        "entity": entity, "key": key, "fields": fields, "updated_at": row.get("_updated_at"),
        "name": display_name(entity=entity, record=row),
        "parents": parents, "children": children, "can_edit": can_edit(request), "section": "model",
        "extra_sections": sections_for(request, entity, key),
    })


@require_POST
@workspace_view()
def record_delete(request, workspace_slug, entity_key, key):
    ws = request.workspace
    entity = access_entity(request.user, ws, entity_key)
    try:
        deleted = services.record_delete(workspace=ws, actor=request.user, entity=entity, key=key)
    except ValidationError:
        deleted = False
    if not deleted:
        raise Http404("Not found.")
    messages.success(request, f"The {entity.label.lower()} {key} was deleted.")
    return go(request, reverse("data-records", kwargs={"workspace_slug": workspace_slug, "entity_key": entity.key}))
