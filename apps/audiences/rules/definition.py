"""Rules, checked against the workspace's metadata before any SQL exists.

A rule is a JSON tree over a target entity:

    {"all": [...]} / {"any": [...]} / {"not": node}
    {"attr": "country", "op": "eq", "value": "NL"}
    {"attr": "product.category", "op": "in", "value": ["ski", "city"]}     (through links)
    {"attr": "booked_at", "op": "in_last", "value": 90, "unit": "days"}
    {"related": "bookings", "exists": true, "where": {...}}                (one-to-many)
    {"related": "bookings", "agg": "sum", "attr": "amount", "where": {...}, "op": "gt", "value": 2000}
    {"in_audience": 12} / {"not_in_audience": 12}

Semantics (the compiler and the reference evaluator agree on them):
- A condition on a missing value is false: `ne`, `not_in`, `not_contains`, comparisons and
  date conditions never match a row whose value is empty; `is_empty` does.
- Text values are taken exactly as written, for every operator: never trimmed (" NL" is
  not "NL"). '' is the empty value, the same as is_empty everywhere (ingestion stores an
  empty cell as empty): `eq ""` is `is_empty`, `ne ""` is `is_not_empty`, `""` in the list
  of `in` matches empty values, and `ne` / `not_in` never match them. The text operators
  (contains, ieq, ...) and the ordered ones need non-empty text. Numbers, dates and
  booleans are parsed, surrounding spaces ignored.
- Case-insensitive operators (ieq, icontains, istarts_with, iends_with) fold the value
  and the column the same way, in PostgreSQL: lower(), with final sigma as sigma; a row
  holding exactly the value always matches ("İstanbul", "ΠΑΠΑΔΟΠΟΥΛΟΣ").
- Dates and moments go from 0001-01-02 to 9999-12-30 (relative amounts: MAX_RELATIVE);
  anything beyond is a problem of the value, never an error when counting.
- A saved audience is compiled once per query however often rules refer to it; a rule
  and the audiences it uses hold at most MAX_TOTAL_NODES conditions together.
- `not` is the complement: every row the inner rule does not match, empty values included.
- A condition through a link is false when the link is empty or its parent is missing.
- `count` of no related rows is 0 and `sum` of none is 0; `avg`, `min`, `max` of none
  are empty, so every comparison with them is false.
- Relative dates use "now" in the workspace's time zone: for a date attribute, today's
  date there; `in_last N days` is from today-N to today, `in_next N days` from today to
  today+N, `more_than_ago N days` before today-N (weeks = 7 days; months are calendar).
- `anniversary_in_next N` (days): the month and day fall from today to today+N, across the
  new year; a window of 365 days holds every date; in a year without a 29 February, that
  day's anniversaries fall on 28 February.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from apps.datamodel.models import Attribute, Entity, Relationship
from apps.datamodel.schema import Schema

from . import values

MAX_DEPTH = 10
MAX_NODES = 500
MAX_TOTAL_NODES = 5_000  # a rule and every saved audience it uses, each counted once
MAX_LIST_VALUES = 10_000
MAX_RELATIVE = {"days": 36_600, "weeks": 5_230, "months": 1_200}

COMMON = {"eq", "ne", "in", "not_in", "is_empty", "is_not_empty"}
ORDERED = values.ORDERED
TEXTUAL = {"contains", "not_contains", "starts_with", "ends_with", "ieq", "icontains", "istarts_with", "iends_with"}
DATES = {"before", "after", "on", "in_last", "in_next", "more_than_ago", "anniversary_in_next"}
NO_VALUE = {"is_empty", "is_not_empty", "is_true", "is_false"}
OPERATORS: dict[str, set[str]] = {
    "text": COMMON | TEXTUAL | ORDERED,
    "email": COMMON | TEXTUAL,
    "phone": COMMON | TEXTUAL,
    "enum": COMMON | TEXTUAL,
    "integer": COMMON | ORDERED,
    "decimal": COMMON | ORDERED,
    "date": COMMON | ORDERED | DATES,
    "datetime": COMMON | ORDERED | DATES,
    "boolean": {"eq", "ne", "is_true", "is_false", "is_empty", "is_not_empty"},
}
AGGREGATES = {"count", "sum", "avg", "min", "max"}
AGG_OPS = {"eq", "ne", "lt", "lte", "gt", "gte", "between"}


class RuleError(ValidationError):
    """Every problem of a rule, each with the path of its node."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__([f"{p['path']}: {p['message']}" for p in problems])


# --- the checked tree -------------------------------------------------------------------------

@dataclass
class Group:
    kind: str  # all | any | not
    children: list[Node]
    path: str


@dataclass
class AttrCond:
    links: list[Relationship]  # many-to-one steps from the node's entity
    attribute: Attribute
    op: str
    value: Any
    unit: str
    path: str


@dataclass
class RelatedCond:
    relationship: Relationship  # relationship.target is the node's entity; rows of .source are counted
    where: Node | None
    agg: str | None  # None: exists / not exists
    exists: bool
    attribute: Attribute | None
    op: str | None
    value: Any
    path: str


@dataclass
class AudienceCond:
    audience: Any
    negate: bool
    path: str
    definition: Definition | None = None  # a rule-based audience's checked definition


Node = Group | AttrCond | RelatedCond | AudienceCond


@dataclass
class Definition:
    """A checked audience definition: a rule over `entity`, optionally moved along links
    (`dimension`) to the entity at the end of the path."""

    entity: Entity
    rule: Node | None
    dimension: list[tuple[Relationship, str]]  # (relationship, "up" many-to-one | "down" one-to-many)
    result_entity: Entity
    schema: Schema


# --- checking ----------------------------------------------------------------------------------

@dataclass
class _Closure:
    """What one check shares with the checks of the saved audiences its rule uses: each
    audience is checked once (however often it is referred to), and the conditions of all
    of them together stay within MAX_TOTAL_NODES, which bounds the compiled query."""

    checked: dict[int, Definition | RuleError] = field(default_factory=dict)
    nodes: int = 0


class _Checker:
    def __init__(self, schema: Schema, *, audience_lookup, visiting: set[int], closure: _Closure):
        self.schema = schema
        self.problems: list[dict[str, str]] = []
        self.nodes = 0
        self.audience_lookup = audience_lookup
        self.visiting = visiting
        self.closure = closure

    def fail(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def node(self, raw: Any, entity: Entity, path: str, depth: int) -> Node | None:
        self.nodes += 1
        self.closure.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.fail(path, f"a rule holds at most {MAX_NODES} conditions.")
            return None
        if self.closure.nodes > MAX_TOTAL_NODES:
            if self.closure.nodes == MAX_TOTAL_NODES + 1:
                self.fail(path, f"with the saved audiences it uses, a rule holds at most {MAX_TOTAL_NODES} "
                                f"conditions.")
            return None
        if depth > MAX_DEPTH:
            self.fail(path, f"groups nest at most {MAX_DEPTH} deep.")
            return None
        if not isinstance(raw, dict):
            self.fail(path, "a condition or group must be an object.")
            return None
        kinds = [k for k in ("all", "any", "not", "related", "in_audience", "not_in_audience") if k in raw]
        if not kinds and "attr" in raw:  # (an aggregate over related rows also names an attr)
            kinds = ["attr"]
        if len(kinds) != 1:
            self.fail(path, "say exactly one of all, any, not, attr, related, in_audience, not_in_audience.")
            return None
        kind = kinds[0]
        if kind in ("all", "any"):
            children_raw = raw[kind]
            if not isinstance(children_raw, list) or not children_raw:
                self.fail(f"{path}.{kind}", "a group needs a non-empty list of conditions.")
                return None
            self._no_extra(raw, {kind}, path)
            children = [self.node(c, entity, f"{path}.{kind}[{i}]", depth + 1) for i, c in enumerate(children_raw)]
            return Group(kind, [c for c in children if c is not None], path)
        if kind == "not":
            self._no_extra(raw, {"not"}, path)
            inner = self.node(raw["not"], entity, f"{path}.not", depth + 1)
            return Group("not", [inner], path) if inner is not None else None
        if kind == "attr":
            return self.attr(raw, entity, path)
        if kind == "related":
            return self.related(raw, entity, path, depth)
        return self.audience(raw, kind, entity, path)

    def _no_extra(self, raw: dict, allowed: set[str], path: str) -> None:
        extra = set(raw) - allowed
        if extra:
            self.fail(path, f"unknown field(s): {', '.join(sorted(extra))}.")

    def _walk_links(self, names: list[str], entity: Entity, path: str) -> tuple[list[Relationship], Entity] | None:
        links = []
        for name in names:
            rel = self.schema.outgoing[entity.pk].get(name)
            if rel is None:
                known = ", ".join(sorted(self.schema.outgoing[entity.pk])) or "none"
                self.fail(path, f"{entity.key} has no link {name!r} (its links: {known}).")
                return None
            links.append(rel)
            entity = rel.target
        return links, entity

    def attr(self, raw: dict, entity: Entity, path: str) -> AttrCond | None:
        self._no_extra(raw, {"attr", "op", "value", "unit"}, path)
        name = raw.get("attr")
        if not isinstance(name, str) or not name:
            self.fail(path, "'attr' must name an attribute, e.g. 'country' or 'product.category'.")
            return None
        *link_names, key = name.split(".")
        walked = self._walk_links(link_names, entity, path)
        if walked is None:
            return None
        links, owner = walked
        attribute = self.schema.attributes[owner.pk].get(key)
        if attribute is None:
            self.fail(path, f"{owner.key} has no attribute {key!r}.")
            return None
        op = raw.get("op")
        allowed = OPERATORS[attribute.type]
        if not isinstance(op, str) or op not in allowed:
            self.fail(path, f"operator {op!r} does not fit {attribute.type} attribute {name!r}; "
                            f"use one of {', '.join(sorted(allowed))}.")
            return None
        unit = raw.get("unit", "days")
        value = self.value(attribute, op, raw.get("value"), unit, path, has_value="value" in raw)
        if value is _BAD:
            return None
        return AttrCond(links, attribute, op, value, unit, path)

    def value(self, attribute: Attribute, op: str, raw: Any, unit: str, path: str, *, has_value: bool) -> Any:
        where = f"{path}.value"
        if op in NO_VALUE:
            if has_value and raw is not None:
                self.fail(where, f"{op} takes no value.")
                return _BAD
            return None
        if not has_value or raw is None:
            self.fail(where, f"{op} needs a value.")
            return _BAD
        try:
            if op in ("in", "not_in"):
                if not isinstance(raw, list) or not raw:
                    raise ValidationError("needs a non-empty list of values.")
                if len(raw) > MAX_LIST_VALUES:
                    raise ValidationError(f"takes at most {MAX_LIST_VALUES} values.")
                return [values.scalar(attribute, v, op) for v in raw]
            if op == "between":
                if not isinstance(raw, list) or len(raw) != 2:
                    raise ValidationError("between needs [low, high].")
                low, high = values.scalar(attribute, raw[0], op), values.scalar(attribute, raw[1], op)
                if low > high:
                    raise ValidationError("between needs low <= high.")
                return [low, high]
            if op in ("in_last", "in_next", "more_than_ago"):
                if not isinstance(unit, str) or unit not in MAX_RELATIVE:
                    raise ValidationError(f"unit must be one of {', '.join(MAX_RELATIVE)}.")
                if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_RELATIVE[unit]:
                    raise ValidationError(f"needs a whole number of {unit} from 0 to {MAX_RELATIVE[unit]}.")
                return raw
            if op == "anniversary_in_next":
                if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 365:
                    raise ValidationError("needs a whole number of days from 0 to 365.")
                return raw
            if op in TEXTUAL:
                if not isinstance(raw, str) or not raw:
                    raise ValidationError("needs non-empty text.")
                if "\x00" in raw:  # PostgreSQL text cannot hold it: refused here, not by the database
                    raise ValidationError("a value cannot contain a NUL character.")
                return raw
            if op in ("before", "after", "on"):
                return values.day(raw)
            return values.scalar(attribute, raw, op)
        except ValidationError as exc:
            self.fail(where, " ".join(exc.messages))
            return _BAD

    def related(self, raw: dict, entity: Entity, path: str, depth: int) -> RelatedCond | None:
        self._no_extra(raw, {"related", "where", "exists", "agg", "attr", "op", "value"}, path)
        name = raw.get("related")
        rel = self.schema.incoming[entity.pk].get(name) if isinstance(name, str) else None
        if rel is None:
            known = ", ".join(sorted(self.schema.incoming[entity.pk])) or "none"
            self.fail(path, f"{entity.key} has no related rows named {name!r} (its one-to-many links: {known}).")
            return None
        child = rel.source
        where = None
        if raw.get("where") is not None:
            where = self.node(raw["where"], child, f"{path}.where", depth + 1)
        agg = raw.get("agg")
        if agg is None:
            exists = raw.get("exists", True)
            if not isinstance(exists, bool):
                self.fail(f"{path}.exists", "exists must be true or false.")
                return None
            if any(k in raw for k in ("attr", "op", "value")):
                self.fail(path, "attr/op/value go with an aggregate (agg); for existence use exists.")
                return None
            return RelatedCond(rel, where, None, exists, None, None, None, path)
        if not isinstance(agg, str) or agg not in AGGREGATES:
            self.fail(f"{path}.agg", f"agg must be one of {', '.join(sorted(AGGREGATES))}.")
            return None
        attribute = None
        if agg != "count":
            key = raw.get("attr")
            attribute = self.schema.attributes[child.pk].get(key) if isinstance(key, str) else None
            if attribute is None:
                self.fail(f"{path}.attr", f"{agg} needs an attribute of {child.key}; {key!r} is not one.")
                return None
            numeric = attribute.type in ("integer", "decimal")
            if agg in ("sum", "avg") and not numeric:
                self.fail(f"{path}.attr", f"{agg} needs a number; {child.key}.{attribute.key} is {attribute.type}.")
                return None
            if agg in ("min", "max") and not (numeric or attribute.type in ("date", "datetime")):
                self.fail(f"{path}.attr", f"{agg} needs a number or a date; {attribute.key} is {attribute.type}.")
                return None
        op = raw.get("op")
        if not isinstance(op, str) or op not in AGG_OPS:
            self.fail(f"{path}.op", f"an aggregate compares with one of {', '.join(sorted(AGG_OPS))}.")
            return None
        compare_as = attribute
        if agg == "count":
            compare_as = Attribute(key="count", type="integer", workspace=entity.workspace)
        elif agg in ("sum", "avg"):
            compare_as = Attribute(key=agg, type="decimal", workspace=entity.workspace)
        value = self.value(compare_as, op, raw.get("value"), "days", path, has_value="value" in raw)
        if value is _BAD:
            return None
        return RelatedCond(rel, where, agg, True, attribute, op, value, path)

    def audience(self, raw: dict, kind: str, entity: Entity, path: str) -> AudienceCond | None:
        self._no_extra(raw, {kind}, path)
        audience = self.audience_lookup(raw[kind])
        if audience is None:
            self.fail(path, f"there is no audience {raw[kind]!r} in this workspace.")
            return None
        if audience.pk in self.visiting:
            self.fail(path, f"audience {audience.name!r} refers back to itself.")
            return None
        if audience.entity_id != entity.pk:  # an audience's entity is the entity of its keys
            self.fail(path, f"audience {audience.name!r} is of {audience.entity.key}, not {entity.key}.")
            return None
        if audience.is_list and audience.status != "ready":  # its table of keys is not there yet
            self.fail(path, f"audience {audience.name!r} is {audience.get_status_display().lower()}; "
                            f"it can be used once it is ready.")
            return None
        definition = None
        if not audience.is_list:
            # Its own rule is checked here too: a cycle through other audiences (a -> b -> a)
            # or a rule that no longer fits the model is a problem of this node, not a
            # failure later when the rule is compiled. Once per check: a success means its
            # whole closure is free of cycles, and a failure fails every rule that reaches it.
            result = self.closure.checked.get(audience.pk)
            if result is None:
                try:
                    result = check_definition(workspace=self.schema.workspace, definition=audience.definition,
                                              schema=self.schema, visiting=self.visiting | {audience.pk},
                                              _closure=self.closure)
                except RuleError as exc:
                    result = exc
                self.closure.checked[audience.pk] = result
            if isinstance(result, RuleError):
                self.fail(path, f"audience {audience.name!r} cannot be used: {result.problems[0]['message']}")
                return None
            definition = result
        return AudienceCond(audience, kind == "not_in_audience", path, definition)


_BAD = object()


def check_definition(*, workspace, definition: Any, schema: Schema | None = None, visiting: set[int] | None = None,
                     _closure: _Closure | None = None) -> Definition:
    """Check {"entity": key, "rule": node?, "dimension": [link, ...]?} against the metadata.
    Raises RuleError listing every problem with its path."""
    from apps.audiences.models import Audience  # noqa: PLC0415

    schema = schema or Schema.load(workspace)
    visiting = visiting or set()

    def lookup(ref: Any):
        if isinstance(ref, bool) or not isinstance(ref, int):
            return None
        return Audience.objects.filter(workspace=workspace, pk=ref).select_related("entity").first()

    checker = _Checker(schema, audience_lookup=lookup, visiting=visiting, closure=_closure or _Closure())
    if not isinstance(definition, dict):
        raise RuleError([{"path": "definition", "message": "must be an object with 'entity' and 'rule'."}])
    extra = set(definition) - {"entity", "rule", "dimension"}
    if extra:
        checker.fail("definition", f"unknown field(s): {', '.join(sorted(extra))}.")
    entity = schema.entities.get(definition.get("entity")) if isinstance(definition.get("entity"), str) else None
    if entity is None:
        known = ", ".join(sorted(schema.entities)) or "none yet"
        raise RuleError([{"path": "entity", "message": f"no entity {definition.get('entity')!r} (entities: {known})."}])
    rule = None
    if definition.get("rule") is not None:
        rule = checker.node(definition["rule"], entity, "rule", 0)
    steps: list[tuple[Relationship, str]] = []
    current = entity
    dimension = definition.get("dimension") or []
    if not isinstance(dimension, list):
        checker.fail("dimension", "must be a list of link names, e.g. ['customer'].")
        dimension = []
    for i, name in enumerate(dimension):
        up = schema.outgoing[current.pk].get(name) if isinstance(name, str) else None
        down = schema.incoming[current.pk].get(name) if isinstance(name, str) else None
        if up is not None:
            steps.append((up, "up"))
            current = up.target
        elif down is not None:
            steps.append((down, "down"))
            current = down.source
        else:
            checker.fail(f"dimension[{i}]", f"{current.key} has no link {name!r}.")
            break
    if checker.problems:
        raise RuleError(checker.problems)
    return Definition(entity=entity, rule=rule, dimension=steps, result_entity=current, schema=schema)
