"""The builder's tree, ready for the templates: per node its inputs (attribute picker
that follows links, operators of the attribute's type, a value input that fits), its
problems from the checker, and what it may do (move up/down, negate, remove)."""

from __future__ import annotations

import re
from typing import Any

from apps.audiences.rules.definition import AGG_OPS, OPERATORS
from apps.datamodel.models import Entity
from apps.datamodel.schema import Schema

from ._rules import Editor
from ._sentences import AGG_OP_LABELS, MODE_LABELS, OP_ORDER, UNITS, op_label
from ._tree import LIST_OPS, MODES, RELATIVE, group_kind, is_not, parse_path

MAX_LINK_DEPTH = 2  # booking -> product -> supplier.country; deeper paths are rare and crowd the picker
INPUT_TYPES = {"integer": "number", "decimal": "number", "date": "date"}
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def dom_id(path: str) -> str:
    return "n-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def problem_owner(path: str, node_paths: list[str]) -> str | None:
    """The node a problem belongs to: the longest node path that the problem's path
    starts with ("rule.all[0].value" -> "rule.all[0])"."""
    best = None
    for candidate in node_paths:
        if path == candidate or path.startswith(candidate + ".") or path.startswith(candidate + "["):
            if best is None or len(candidate) > len(best):
                best = candidate
    return best


# On dates these say what "before", "after" and "on" (a whole day) say.
SAME_AS_DATE_WORDS = {"lt", "gt", "eq"}
MISSING_VALUE = "Fill in a value."


def is_missing_value(problem: dict) -> bool:
    """An empty value box: not a mistake yet while the user has not acted on the rule."""
    return problem["path"].endswith(".value") and problem["message"].endswith(" needs a value.")


def worded(problem: dict) -> dict:
    """The checker's "eq needs a value." speaks the rule's JSON; the builder speaks words."""
    return {**problem, "message": MISSING_VALUE} if is_missing_value(problem) else problem


class Display:
    """`show_missing`: whether an empty value is marked as a problem at its condition (after
    a save, the user's act); before that it is only a waiting note beside the count."""

    def __init__(self, schema: Schema, definition: dict[str, Any], *, problems: list[dict] | None = None,
                 audiences: list | None = None, show_missing: bool = False):
        self.schema = schema
        self.definition = definition
        self.editor = Editor(schema, definition, audiences=audiences)
        problems = [worded(p) for p in problems or []]
        self.waiting = [p for p in problems if p["message"] == MISSING_VALUE]
        self.problems = problems if show_missing else [p for p in problems if p["message"] != MISSING_VALUE]
        self._fields: dict[int, list] = {}
        self.labels: dict[str, str] = {}  # node path -> its number in the builder ("2.1")
        self.node_paths: list[str] = []
        self._collect(definition.get("rule"), "rule")
        self.by_node: dict[str, list[str]] = {}
        self.general: list[str] = []
        for problem in self.problems:
            owner = problem_owner(problem["path"], self.node_paths) if problem["path"].startswith("rule") else None
            if owner is None:
                self.general.append(problem["message"])
            else:
                self.by_node.setdefault(owner, []).append(problem["message"])

    def _collect(self, node: Any, path: str) -> None:
        if node is None:
            return
        self.node_paths.append(path)
        kind = group_kind(node)
        if kind is not None:
            for i, child in enumerate(node[kind]):
                self._collect(child, f"{path}.{kind}[{i}]")
        elif is_not(node):
            self._collect(node["not"], f"{path}.not")
        elif isinstance(node, dict) and "related" in node and node.get("where") is not None:
            self._collect(node["where"], f"{path}.where")

    def numbered_problems(self, problems: list[dict] | None = None) -> list[dict[str, str]]:
        """The problems with the number of the condition they belong to, for the count."""
        if not self.labels:
            self.root()
        out = []
        for problem in self.problems if problems is None else problems:
            owner = problem_owner(problem["path"], self.node_paths) if problem["path"].startswith("rule") else None
            label = self.labels.get(owner or "", "")
            out.append({**problem, "label": f"Condition {label}" if label else ""})
        return out

    # pickers

    def field_groups(self, entity: Entity) -> list[tuple[str, list[tuple[str, str]]]]:
        """The attribute picker: the entity's attributes, those reached through its
        many-to-one links ("product.category"), its one-to-many related rows, audiences."""
        if entity.pk in self._fields:
            return self._fields[entity.pk]
        groups = [(entity.label, self._attributes(entity, ""))]

        def walk(current: Entity, prefix: str, seen: set[int], depth: int) -> None:
            for key, rel in sorted(self.schema.outgoing[current.pk].items()):
                if rel.target.pk in seen:
                    continue
                path = f"{prefix}{key}."
                groups.append((f"Through {prefix.replace('.', ' › ')}{key} ({rel.target.label})",
                               self._attributes(rel.target, path)))
                if depth < MAX_LINK_DEPTH:
                    walk(rel.target, path, seen | {rel.target.pk}, depth + 1)

        walk(entity, "", {entity.pk}, 1)
        related = [(f"related:{name}", f"{name} ({rel.source.label} records)")
                   for name, rel in sorted(self.schema.incoming[entity.pk].items())]
        if related:
            groups.append(("Related records (one-to-many)", related))
        if self.editor.audiences_of(entity):
            groups.append(("Audiences", [("audience", "Membership of an audience")]))
        self._fields[entity.pk] = groups
        return groups

    def _attributes(self, entity: Entity, prefix: str) -> list[tuple[str, str]]:
        return [(f"attr:{prefix}{a.key}", f"{prefix.replace('.', ' › ')}{a.label or a.key}")
                for a in self.schema.attributes[entity.pk].values()]

    @staticmethod
    def operators(type_: str, current: str | None = None) -> list[tuple[str, str]]:
        """The picker's operators, one per meaning: on a date "before" is "lt" in other
        words, so only the date words are offered (a rule that already uses the other
        keeps it in the list)."""
        allowed = OPERATORS[type_]
        hidden = SAME_AS_DATE_WORDS if type_ in ("date", "datetime") else set()
        return [(op, op_label(op, type_)) for op in OP_ORDER if op in allowed and (op not in hidden or op == current)]

    # the tree

    def root(self) -> dict[str, Any] | None:
        entity = self.editor.entity
        rule = self.definition.get("rule")
        if entity is None or rule is None:
            return None
        return self.node(rule, "rule", entity, label="", siblings=1, index=0, parent=None)

    def node(self, node: Any, path: str, entity: Entity, *, label: str, siblings: int, index: int,
             parent: str | None) -> dict[str, Any]:
        self.labels[path] = label
        view: dict[str, Any] = {
            "path": path, "id": dom_id(path), "label": label, "problems": self.by_node.get(path, []),
            "can_up": parent in ("all", "any") and index > 0,
            "can_down": parent in ("all", "any") and index < siblings - 1,
            "in_not": parent == "not", "is_root": path == "rule", "entity": entity,
        }
        kind = group_kind(node)
        if kind is not None:
            children = node[kind]
            view.update(kind="group", group_kind=kind, children=[
                self.node(child, f"{path}.{kind}[{i}]", entity, label=f"{label}.{i + 1}" if label else str(i + 1),
                          siblings=len(children), index=i, parent=kind)
                for i, child in enumerate(children)])
            return view
        if is_not(node):
            view.update(kind="not", child=self.node(node["not"], f"{path}.not", entity, label=label, siblings=1,
                                                    index=0, parent="not"))
            return view
        if not isinstance(node, dict):
            view.update(kind="invalid", raw=node)
            return view
        view["field_groups"] = self.field_groups(entity)
        if "related" in node:
            return self._related(view, node, path, entity, label)
        if "in_audience" in node or "not_in_audience" in node:
            membership = "not_in_audience" if "not_in_audience" in node else "in_audience"
            choices = self.editor.audiences_of(entity)
            view.update(kind="audience", field="audience", membership=membership, audience_id=node.get(membership),
                        audience_choices=choices, audience_known=any(a.pk == node.get(membership) for a in choices))
            return view
        attribute = self.editor.resolve(entity, node.get("attr"))
        if attribute is None:
            view.update(kind="invalid", raw=node)
            return view
        op = node.get("op") if node.get("op") in OPERATORS[attribute.type] else None
        view.update(kind="attr", field=f"attr:{node['attr']}", attribute=attribute, op=op,
                    op_choices=self.operators(attribute.type, op),
                    widget=self.widget(attribute.type, op, node.get("value"), node.get("unit"),
                                       enum_values=attribute.enum_values),
                    distribution=op is not None and attribute.type != "boolean")
        return view

    def _related(self, view: dict, node: dict, path: str, entity: Entity, label: str) -> dict[str, Any]:
        rel = self.editor.related(entity, node.get("related"))
        if rel is None:
            view.update(kind="invalid", raw=node)
            return view
        mode = Editor.mode_of(node)
        child = rel.source
        view.update(kind="related", field=f"related:{node['related']}", mode=mode, child_entity=child,
                    mode_choices=[(m, MODE_LABELS[m]) for m in MODES], where_path=f"{path}.where", where=None)
        if mode not in ("exists", "none"):
            attributes = self.editor.agg_attributes(child, mode) if mode != "count" else []
            compare = self.editor.compare_type(rel, mode, node.get("attr")) or "decimal"
            op = node.get("op") if node.get("op") in AGG_OPS else None
            view.update(agg_attr=node.get("attr"), agg_attr_choices=[(a.key, a.label or a.key) for a in attributes],
                        op=op, op_choices=[(o, AGG_OP_LABELS[o]) for o in
                                           ("eq", "ne", "lt", "lte", "gt", "gte", "between")],
                        widget=self.widget(compare, op, node.get("value"), None, enum_values=[]))
        if node.get("where") is not None:
            view["where"] = self.node(node["where"], f"{path}.where", child, label=label, siblings=1, index=0,
                                      parent="where")
        return view

    @staticmethod
    def widget(type_: str, op: str | None, value: Any, unit: Any, *, enum_values: list[str]) -> dict[str, Any]:
        """The value input(s) that fit the type and operator."""
        input_type = INPUT_TYPES.get(type_, "text")
        if input_type == "date" and value is not None and not (
                isinstance(value, str) and ISO_DAY.match(value)) and not isinstance(value, list):
            input_type = "text"  # a browser's date input would drop a value it cannot show
        base = {"input_type": input_type, "step": "1" if type_ == "integer" else "any",
                "placeholder": {"datetime": "YYYY-MM-DD HH:MM", "date": "YYYY-MM-DD"}.get(type_, "")}
        if op is None or op in ("is_empty", "is_not_empty", "is_true", "is_false"):
            return {**base, "kind": "none"}
        if op in LIST_OPS:
            values = value if isinstance(value, list) else []
            if type_ == "enum":
                options = list(enum_values) + [v for v in values if v not in enum_values]
                return {**base, "kind": "list_enum", "options": options, "selected": [text_of(v) for v in values]}
            texts = [text_of(v) for v in values]
            joined = "\n".join(texts) if any("," in t for t in texts) else ", ".join(texts)
            return {**base, "kind": "list", "value": joined}
        if op == "between":
            pair = value if isinstance(value, list) and len(value) == 2 else [None, None]
            return {**base, "kind": "pair", "value": text_of(pair[0]), "value2": text_of(pair[1])}
        if op in RELATIVE:
            return {**base, "kind": "relative", "value": text_of(value), "unit": unit or "days", "units": UNITS}
        if op == "anniversary_in_next":
            return {**base, "kind": "days", "value": text_of(value)}
        if op in ("before", "after", "on"):
            day = text_of(value)
            return {**base, "kind": "input", "input_type": "date" if not day or ISO_DAY.match(day) else "text",
                    "value": day}
        if type_ == "boolean":
            return {**base, "kind": "boolean", "checked": value is True}
        if type_ == "enum" and op in ("eq", "ne"):
            options = list(enum_values) + ([value] if isinstance(value, str) and value not in enum_values else [])
            return {**base, "kind": "enum", "options": options, "value": text_of(value)}
        if op not in ("eq", "ne", "lt", "lte", "gt", "gte"):
            input_type = "text"  # textual operators
        return {**base, "kind": "input", "input_type": input_type, "value": text_of(value)}

    # the whole builder

    def context(self) -> dict[str, Any]:
        entity = self.editor.entity
        dimensions: list[tuple[str, str]] = []
        if entity is not None:
            dimensions.append(("", f"the {entity.label} records themselves"))
            for name, rel in sorted(self.schema.outgoing[entity.pk].items()):
                dimensions.append((name, f"their {name} ({rel.target.label})"))
            for name, rel in sorted(self.schema.incoming[entity.pk].items()):
                dimensions.append((name, f"their {name} ({rel.source.label} records)"))
        current = ",".join(d for d in self.definition.get("dimension") or [] if isinstance(d, str))
        if current and current not in [d for d, _ in dimensions]:
            dimensions.append((current, f"along {current.replace(',', ' › ')}"))
        return {"tree": self.root(), "entity": entity, "general_problems": self.general,
                "dimension_choices": dimensions, "dimension": current}


def valid_path(path: str) -> bool:
    return parse_path(path) is not None
