"""A rule as readable sentences ("Country is one of NL, DE"), for the audience page, the
per-group counts and the builder's labels."""

from __future__ import annotations

from typing import Any

from apps.datamodel.models import Entity
from apps.datamodel.schema import Schema

from ._rules import Editor
from ._tree import GROUP_KINDS, group_kind, is_not

OP_LABELS = {
    "eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of",
    "ieq": "is (any case)", "contains": "contains", "not_contains": "does not contain",
    "icontains": "contains (any case)", "starts_with": "starts with", "istarts_with": "starts with (any case)",
    "ends_with": "ends with", "iends_with": "ends with (any case)",
    "lt": "is less than", "lte": "is at most", "gt": "is more than", "gte": "is at least", "between": "is between",
    "before": "is before", "after": "is after", "on": "is on",
    "in_last": "is in the last", "in_next": "is in the next", "more_than_ago": "is more than",  # the unit box is followed by "ago"
    "anniversary_in_next": "has its anniversary in the next",
    "is_true": "is true", "is_false": "is false", "is_empty": "is empty", "is_not_empty": "is not empty",
}
OP_ORDER = list(OP_LABELS)
DATE_OP_LABELS = {"lt": "is earlier than", "lte": "is on or before", "gt": "is later than", "gte": "is on or after"}
AGG_OP_LABELS = {"eq": "is", "ne": "is not", "lt": "is less than", "lte": "is at most", "gt": "is more than",
                 "gte": "is at least", "between": "is between"}
MODE_LABELS = {"exists": "has at least one", "none": "has none", "count": "number of", "sum": "sum of",
               "avg": "average of", "min": "lowest", "max": "highest"}
UNITS = [("days", "days"), ("weeks", "weeks"), ("months", "months")]
MAX_LINE = 240


def op_label(op: str, type_: str | None = None) -> str:
    if type_ in ("date", "datetime") and op in DATE_OP_LABELS:
        return DATE_OP_LABELS[op]
    return OP_LABELS.get(op, op)


def show(value: Any) -> str:
    if value is None:
        return "…"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    return str(value)


class Sentences:
    """Readable text for the nodes of one workspace's rules."""

    def __init__(self, schema: Schema, *, audience_names: dict[int, str] | None = None):
        self.schema = schema
        self.editor = Editor(schema, {})
        self.audience_names = audience_names or {}

    def attr_label(self, entity: Entity, name: Any) -> str:
        if not isinstance(name, str):
            return "?"
        *links, key = name.split(".")
        attribute = self.editor.resolve(entity, name)
        label = attribute.label if attribute is not None and attribute.label else key
        return " › ".join([*links, label]) if links else label

    def condition(self, node: dict, entity: Entity) -> str:
        """One condition (not a group) as text."""
        if "attr" in node and "related" not in node:
            attribute = self.editor.resolve(entity, node.get("attr"))
            op = node.get("op")
            text = f"{self.attr_label(entity, node.get('attr'))} {op_label(op, attribute.type if attribute else None)}"
            if op in ("in_last", "in_next"):
                return f"{text} {show(node.get('value'))} {node.get('unit', 'days')}"
            if op == "more_than_ago":
                return f"{self.attr_label(entity, node.get('attr'))} is more than {show(node.get('value'))} " \
                       f"{node.get('unit', 'days')} ago"
            if op == "anniversary_in_next":
                return f"{text} {show(node.get('value'))} days"
            if op == "between" and isinstance(node.get("value"), list) and len(node["value"]) == 2:
                return f"{text} {show(node['value'][0])} and {show(node['value'][1])}"
            if "value" in node or op not in ("is_true", "is_false", "is_empty", "is_not_empty"):
                return f"{text} {show(node.get('value'))}"
            return text
        if "related" in node:
            name = node.get("related")
            rel = self.editor.related(entity, name)
            mode = Editor.mode_of(node)
            if mode == "exists":
                return f"has at least one of its {name}"
            if mode == "none":
                return f"has none of its {name}"
            op = node.get("op")
            value = node.get("value")
            compared = f"{show(value[0])} and {show(value[1])}" if op == "between" and isinstance(value, list) \
                and len(value) == 2 else show(value)
            if mode == "count":
                subject = f"the number of its {name}"
            else:
                attr = self.attr_label(rel.source, node.get("attr")) if rel is not None else node.get("attr")
                subject = f"the {MODE_LABELS[mode]} {attr} of its {name}"
            return f"{subject} {AGG_OP_LABELS.get(op, op)} {compared}"
        for kind, verb in (("in_audience", "is in"), ("not_in_audience", "is not in")):
            if kind in node:
                name = self.audience_names.get(node[kind], f"#{node[kind]}")
                return f"{verb} the audience “{name}”"
        return "(a condition the builder does not know)"

    def tree(self, node: Any, entity: Entity) -> dict[str, Any]:
        """{"text", "children"} for nested lists."""
        kind = group_kind(node)
        if kind is not None:
            return {"text": "all of these:" if kind == "all" else "any of these:",
                    "children": [self.tree(c, entity) for c in node[kind]]}
        if is_not(node):
            inner = node["not"]
            inner_kind = group_kind(inner)
            if inner_kind is not None:
                return {"text": "none of these:" if inner_kind == "any" else "not all of these:",
                        "children": [self.tree(c, entity) for c in inner[inner_kind]]}
            return {"text": f"not: {self.line(inner, entity)}", "children": []}
        if not isinstance(node, dict):
            return {"text": "(not a condition)", "children": []}
        text = self.condition(node, entity)
        children = []
        if "related" in node and node.get("where") is not None:
            rel = self.editor.related(entity, node.get("related"))
            if rel is not None:
                where = self.tree(node["where"], rel.source)
                label = "counting only those where" if node.get("agg") else "where"
                if group_kind(node["where"]) is not None:
                    text += f", {label} {where['text']}"
                    children = where["children"]
                else:
                    text += f", {label}:"
                    children = [where]
        return {"text": text, "children": children}

    def line(self, node: Any, entity: Entity) -> str:
        """The node on one line, groups in parentheses."""
        text = self._line(node, entity, top=True)
        return text if len(text) <= MAX_LINE else text[:MAX_LINE - 1] + "…"

    def _line(self, node: Any, entity: Entity, *, top: bool = False) -> str:
        kind = group_kind(node)
        if kind is not None:
            joined = (" and " if kind == "all" else " or ").join(self._line(c, entity) for c in node[kind])
            return joined if top or len(node[kind]) == 1 else f"({joined})"
        if is_not(node):
            return f"not {self._line(node['not'], entity)}"
        if not isinstance(node, dict):
            return "?"
        text = self.condition(node, entity)
        if "related" in node and node.get("where") is not None:
            rel = self.editor.related(entity, node.get("related"))
            if rel is not None:
                text += f" where {self._line(node['where'], rel.source)}"
        return text

    def definition(self, definition: dict) -> dict[str, Any]:
        """The whole definition: its entity, its rule as a tree, the change of dimension."""
        entity = self.schema.entities.get(definition.get("entity")) \
            if isinstance(definition.get("entity"), str) else None
        if entity is None:
            return {"entity": None, "rule": None, "dimension": []}
        rule = definition.get("rule")
        steps, current = [], entity
        for name in definition.get("dimension") or []:
            up = self.schema.outgoing[current.pk].get(name) if isinstance(name, str) else None
            down = self.schema.incoming[current.pk].get(name) if isinstance(name, str) else None
            if up is None and down is None:
                break
            current = up.target if up is not None else down.source
            steps.append({"name": name, "entity": current})
        return {"entity": entity, "rule": self.tree(rule, entity) if rule is not None else None,
                "dimension": steps}


__all__ = ["OP_LABELS", "OP_ORDER", "AGG_OP_LABELS", "MODE_LABELS", "UNITS", "GROUP_KINDS", "Sentences", "op_label"]
