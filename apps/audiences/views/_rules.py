"""The rule builder's edits, made on the rule JSON (the one source of truth): the values of
the builder's inputs are written back into the tree, then one action (add, nest, move,
remove, negate...) is applied. Paths are the checker's: "rule", "rule.all[2].any[0]",
"rule.all[1].where", "rule.not". Nothing here touches the database beyond the metadata
already loaded in a Schema."""

from __future__ import annotations

import copy
from typing import Any

from apps.audiences.rules.definition import AGG_OPS, AGGREGATES, NO_VALUE, OPERATORS
from apps.datamodel.models import Attribute, Entity
from apps.datamodel.schema import Schema

from ._tree import (
    GROUP_KINDS,
    LIST_OPS,
    MODES,
    RELATIVE,
    adapt,
    convert,
    default_op,
    group_kind,
    is_not,
    kind_class,
    locate,
    node_at,
    parent_path,
    parse_path,
    shape,
    split_list,
    whole_number,
)

# --- the editor --------------------------------------------------------------------------------

class Editor:
    """Edits one definition against the workspace's metadata."""

    def __init__(self, schema: Schema, definition: dict[str, Any], *, audiences: list | None = None):
        self.schema = schema
        self.definition = copy.deepcopy(definition)
        self.audiences = audiences or []  # Audience rows usable in in_audience conditions

    # entities and attributes

    @property
    def entity(self) -> Entity | None:
        key = self.definition.get("entity")
        return self.schema.entities.get(key) if isinstance(key, str) else None

    def resolve(self, entity: Entity, name: Any) -> Attribute | None:
        """The attribute a condition names, through many-to-one links ("product.category")."""
        if not isinstance(name, str) or not name:
            return None
        *links, key = name.split(".")
        for link in links:
            rel = self.schema.outgoing[entity.pk].get(link)
            if rel is None:
                return None
            entity = rel.target
        return self.schema.attributes[entity.pk].get(key)

    def related(self, entity: Entity, name: Any):
        return self.schema.incoming[entity.pk].get(name) if isinstance(name, str) else None

    def entity_at(self, path: str) -> Entity | None:
        """The entity the node at `path` is about (a related rule's `where` is about the
        related rows)."""
        entity = self.entity
        steps = parse_path(path)
        if entity is None or steps is None:
            return None
        node: Any = self.definition.get("rule")
        for name, index in steps:
            if not isinstance(node, dict) or name not in node:
                return None
            if name == "where":
                rel = self.related(entity, node.get("related"))
                if rel is None:
                    return None
                entity = rel.source
            child = node[name]
            if index is not None:
                if not isinstance(child, list) or index >= len(child):
                    return None
                child = child[index]
            node = child
        return entity

    def audiences_of(self, entity: Entity) -> list:
        return [a for a in self.audiences if a.entity_id == entity.pk]

    def agg_attributes(self, entity: Entity, agg: str) -> list[Attribute]:
        numeric = ("integer", "decimal")
        allowed = numeric if agg in ("sum", "avg") else numeric + ("date", "datetime")
        links = {rel.attribute_id for rel in self.schema.outgoing[entity.pk].values()}  # keys, not measures
        return [a for a in self.schema.attributes[entity.pk].values()
                if a.type in allowed and not a.is_primary_key and a.pk not in links]

    def new_condition(self, entity: Entity) -> dict[str, Any]:
        links = {rel.attribute_id for rel in self.schema.outgoing[entity.pk].values()}
        attributes = list(self.schema.attributes[entity.pk].values())
        choice = next((a for a in attributes if not a.is_primary_key and a.pk not in links), None) \
            or next((a for a in attributes if not a.is_primary_key), None) or attributes[0]
        return {"attr": choice.key, "op": default_op(choice.type)}

    # structure

    def _set(self, path: str, node: Any) -> None:
        if path == "rule":
            self.definition["rule"] = node
            return
        if path.endswith(".where"):  # (the related node may have no `where` yet)
            owner = node_at(self.definition, parent_path(path))
            if isinstance(owner, dict) and "related" in owner:
                owner["where"] = node
            return
        located = locate(self.definition, path)
        if located is not None:
            container, key = located
            container[key] = node

    def add(self, slot: str, what: str) -> None:
        """A new condition (or a group holding one) in the group at `slot`; an empty slot
        gets a group, a lone condition is grouped with the new one."""
        if slot.endswith(".where"):  # the slot may be empty: its entity is the related rows'
            owner = self.entity_at(parent_path(slot))
            rel = self.related(owner, (node_at(self.definition, parent_path(slot)) or {}).get("related")) \
                if owner is not None else None
            entity = rel.source if rel is not None else None
        else:
            entity = self.entity_at(slot)
        if entity is None:
            return
        node = node_at(self.definition, slot)
        kind = group_kind(node)
        condition = self.new_condition(entity)
        inner_kind = "any" if kind in (None, "all") else "all"
        new = condition if what == "condition" else {inner_kind: [condition]}
        if node is None:
            if slot == "rule" or slot.endswith(".where"):
                self._set(slot, {"all": [new]})
        elif kind is not None:
            node[kind].append(new)
        else:
            self._set(slot, {"all": [node, new]})

    def remove(self, path: str) -> None:
        if path == "rule":
            self.definition["rule"] = None
            return
        located = locate(self.definition, path)
        if located is None:
            return
        container, key = located
        if isinstance(container, list):
            container.pop(key)
            if not container:  # an empty group means nothing: it goes too
                self.remove(parent_path(path))
        elif key == "not":
            self.remove(parent_path(path))
        elif key == "where":
            del container["where"]

    def move(self, path: str, delta: int) -> None:
        located = locate(self.definition, path)
        if located is None or not isinstance(located[0], list):
            return
        siblings, index = located
        other = index + delta
        if 0 <= other < len(siblings):
            siblings[index], siblings[other] = siblings[other], siblings[index]

    def negate(self, path: str) -> None:
        """Wrap the node in `not`, or unwrap a `not`."""
        node = node_at(self.definition, path)
        if node is None:
            return
        self._set(path, node["not"] if is_not(node) else {"not": node})

    def set_value(self, path: str, raw: str) -> None:
        """A value picked from the distribution of an attribute."""
        node = node_at(self.definition, path)
        entity = self.entity_at(path)
        if not isinstance(node, dict) or "attr" not in node or "related" in node or entity is None:
            return
        attribute = self.resolve(entity, node.get("attr"))
        if attribute is None:
            return
        value = convert(attribute.type, raw)
        op = node.get("op")
        if op in LIST_OPS:
            current = node.get("value") if isinstance(node.get("value"), list) else []
            if value not in current:
                node["value"] = current + [value]
        elif shape(op) == "scalar" and op not in ("before", "after", "on"):
            node["value"] = value

    # the builder's inputs -> the tree

    def sync(self, post) -> None:
        """Write the posted inputs (named "<path>|<field>") into the tree."""
        entity = self.entity
        rule = self.definition.get("rule")
        if entity is not None and rule is not None:
            self.definition["rule"] = self._sync(rule, "rule", entity, post)
        dimension = post.get("dimension")
        if dimension is not None:
            self.definition["dimension"] = [d for d in dimension.split(",") if d]
            if not self.definition["dimension"]:
                del self.definition["dimension"]

    def _sync(self, node: Any, path: str, entity: Entity, post) -> Any:
        if not isinstance(node, dict):
            return node
        kind = group_kind(node)
        if kind is not None:
            children = [self._sync(c, f"{path}.{kind}[{i}]", entity, post) for i, c in enumerate(node[kind])]
            chosen = post.get(f"{path}|kind")
            return {chosen if chosen in GROUP_KINDS else kind: children}
        if is_not(node):
            return {"not": self._sync(node["not"], f"{path}.not", entity, post)}
        field = post.get(f"{path}|field")
        if "related" in node:
            rel = self.related(entity, node["related"])
            if rel is not None and node.get("where") is not None:
                node = {**node, "where": self._sync(node["where"], f"{path}.where", rel.source, post)}
            if field is None or rel is None:
                return node
            if field != f"related:{node['related']}":
                return self.fresh(field, entity, node, path, post)
            return self._sync_related(node, path, rel, post)
        if "in_audience" in node or "not_in_audience" in node:
            if field is None:
                return node
            if field != "audience":
                return self.fresh(field, entity, node, path, post)
            membership = post.get(f"{path}|membership")
            if membership not in ("in_audience", "not_in_audience"):
                membership = "not_in_audience" if "not_in_audience" in node else "in_audience"
            current = node.get("in_audience", node.get("not_in_audience"))
            try:
                chosen = int(post.get(f"{path}|audience", current))
            except (TypeError, ValueError):
                chosen = current
            return {membership: chosen}
        if "attr" in node:
            if field is None:
                return node
            if field != f"attr:{node['attr']}":
                return self.fresh(field, entity, node, path, post)
            return self._sync_attr(node, path, entity, post)
        return node

    def fresh(self, field: str, entity: Entity, old: dict, path: str, post) -> dict:
        """The node for a newly picked attribute, related rows or audience."""
        if field.startswith("attr:"):
            attribute = self.resolve(entity, field[5:])
            if attribute is None:
                return old
            previous = self.resolve(entity, old.get("attr")) if "related" not in old else None
            if previous is not None and previous.type == attribute.type:
                # The inputs on the page fit the new attribute too: read them (the operator
                # or value may have changed in the same request).
                kept = {k: v for k, v in old.items() if k in ("op", "value", "unit")}
                return self._sync_attr({**kept, "attr": field[5:]}, path, entity, post)
            op = post.get(f"{path}|op")
            return {"attr": field[5:], "op": op if op in OPERATORS[attribute.type] else default_op(attribute.type)}
        if field.startswith("related:"):
            if self.related(entity, field[8:]) is not None:
                return {"related": field[8:], "exists": True}
            return old
        if field == "audience":
            choices = self.audiences_of(entity)
            return {"in_audience": choices[0].pk} if choices else old
        return old

    def read_value(self, type_: str, op: str, path: str, post) -> tuple[Any, Any]:
        """(value, unit) from the inputs the builder rendered for `op`."""
        name = f"{path}|value"
        if op in NO_VALUE:
            return None, None
        if op in LIST_OPS:
            raw = post.getlist(f"{path}|values") if type_ == "enum" else split_list(post.get(name, ""))
            values = [convert(type_, v) for v in raw if str(v).strip()]
            return (values or None), None
        if op == "between":
            low, high = convert(type_, post.get(name)), convert(type_, post.get(f"{path}|value2"))
            return ([low, high] if low is not None or high is not None else None), None
        if op in RELATIVE:
            return whole_number(post.get(name)), post.get(f"{path}|unit") or "days"
        if op == "anniversary_in_next":
            return whole_number(post.get(name)), None
        if type_ == "boolean":
            ticks = post.getlist(name)
            return (ticks[-1] == "true") if ticks else None, None
        text = post.get(name, "")
        if op in ("contains", "not_contains", "starts_with", "ends_with", "ieq", "icontains", "istarts_with",
                  "iends_with"):
            return (text if text.strip() else None), None
        if op in ("before", "after", "on"):
            return (text.strip() or None), None
        return convert(type_, text), None

    def _sync_attr(self, node: dict, path: str, entity: Entity, post) -> dict:
        attribute = self.resolve(entity, node["attr"])
        if attribute is None:
            return node
        allowed = OPERATORS[attribute.type]
        old_op = node.get("op") if isinstance(node.get("op"), str) else None
        if old_op in allowed:
            value, unit = self.read_value(attribute.type, old_op, path, post)
        else:
            value, unit = node.get("value"), node.get("unit")
        op = post.get(f"{path}|op") or old_op
        if op not in allowed:
            op = default_op(attribute.type)
        if op != old_op:
            value = adapt(value, old_op, op)
        out: dict[str, Any] = {"attr": node["attr"], "op": op}
        if value is not None and op not in NO_VALUE:
            out["value"] = value
        if op in RELATIVE:
            out["unit"] = unit if isinstance(unit, str) and unit else "days"
        return out

    def compare_type(self, rel, agg: str | None, attr_key: Any) -> str | None:
        if agg == "count":
            return "integer"
        if agg in ("sum", "avg"):
            return "decimal"
        if agg in ("min", "max"):
            attribute = self.schema.attributes[rel.source.pk].get(attr_key) if isinstance(attr_key, str) else None
            return attribute.type if attribute is not None else None
        return None

    @staticmethod
    def mode_of(node: dict) -> str:
        agg = node.get("agg")
        if isinstance(agg, str) and agg in AGGREGATES:
            return agg
        return "none" if node.get("exists") is False else "exists"

    def _sync_related(self, node: dict, path: str, rel, post) -> dict:
        old_mode = self.mode_of(node)
        mode = post.get(f"{path}|mode") or old_mode
        if mode not in MODES:
            mode = old_mode
        out: dict[str, Any] = {"related": node["related"]}
        if mode in ("exists", "none"):
            out["exists"] = mode == "exists"
        else:
            out["agg"] = mode
            attr_key = post.get(f"{path}|agg_attr") or node.get("attr")
            if mode != "count":
                candidates = [a.key for a in self.agg_attributes(rel.source, mode)]
                if attr_key not in candidates:
                    attr_key = candidates[0] if candidates else attr_key
                out["attr"] = attr_key
            new_type = self.compare_type(rel, mode, attr_key)
            if old_mode in ("exists", "none"):
                op, value = "gte", (1 if mode == "count" else None)
            else:
                old_op = node.get("op") if node.get("op") in AGG_OPS else "gte"
                old_type = self.compare_type(rel, old_mode, node.get("attr"))
                value = self.read_value(old_type or "decimal", old_op, path, post)[0]
                if kind_class(old_type) != kind_class(new_type):
                    value = None
                op = post.get(f"{path}|op") or old_op
                if op not in AGG_OPS:
                    op = "gte"
                if op != old_op:
                    value = adapt(value, old_op, op)
            out["op"] = op
            if value is not None:
                out["value"] = value
        if node.get("where") is not None:
            out["where"] = node["where"]
        return out


def apply_action(editor: Editor, action: str) -> None:
    """One builder action, "verb|path[|extra]"."""
    verb, _, rest = (action or "").partition("|")
    path, _, extra = rest.partition("|")
    if verb != "refresh" and parse_path(path) is None:
        return
    if verb == "add_condition":
        editor.add(path, "condition")
    elif verb == "add_group":
        editor.add(path, "group")
    elif verb == "remove":
        editor.remove(path)
    elif verb == "up":
        editor.move(path, -1)
    elif verb == "down":
        editor.move(path, 1)
    elif verb == "negate":
        editor.negate(path)
    elif verb == "set_value":
        editor.set_value(path, extra)


def edit(schema: Schema, definition: dict[str, Any], post, *, audiences: list | None = None) -> dict[str, Any]:
    """The definition after the posted inputs and action. A change of entity starts a new
    rule (the conditions were about the other entity)."""
    editor = Editor(schema, definition, audiences=audiences)
    entity = post.get("entity")
    if entity and entity in schema.entities and entity != definition.get("entity"):
        return {"entity": entity, "rule": None}
    editor.sync(post)
    apply_action(editor, post.get("action", ""))
    return editor.definition
