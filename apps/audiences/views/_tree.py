"""The rule JSON as the builder handles it: reading and writing it, addressing a node by
the checker's paths ("rule", "rule.all[2].any[0]", "rule.all[1].where", "rule.not"), and
turning the strings typed into the builder into the JSON values the checker reads."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.audiences.rules.definition import NO_VALUE
from apps.core.inputs import InputRejected, json_loads_checked

MAX_DEFINITION_CHARS = 500_000  # the checker allows 500 conditions; far below this
RELATIVE = {"in_last", "in_next", "more_than_ago"}
LIST_OPS = {"in", "not_in"}
MODES = ("exists", "none", "count", "sum", "avg", "min", "max")
GROUP_KINDS = ("all", "any")
_STEP = re.compile(r"\.(all|any|not|where)(?:\[(\d+)\])?")
_LAST_STEP = re.compile(r"\.(all|any|not|where)(?:\[\d+\])?$")


class DefinitionError(ValueError):
    """The posted definition is not a JSON object we can edit."""


def load_definition(text: str | None) -> dict[str, Any]:
    if not text:
        raise DefinitionError("The rule is missing.")
    if len(text) > MAX_DEFINITION_CHARS:
        raise DefinitionError("The rule is too large.")
    try:
        data = json_loads_checked(text)
    except InputRejected as exc:
        raise DefinitionError(f"The rule cannot be used: {exc.field} {exc.message}") from None
    except ValueError:
        raise DefinitionError("The rule is not valid JSON.") from None
    if not isinstance(data, dict):
        raise DefinitionError("The rule must be a JSON object.")
    return data


def dump_definition(definition: dict[str, Any]) -> str:
    return json.dumps(definition, separators=(",", ":"), ensure_ascii=False)


# --- paths -------------------------------------------------------------------------------------

def parse_path(path: str) -> list[tuple[str, int | None]] | None:
    if not isinstance(path, str) or not path.startswith("rule"):
        return None
    rest, steps, pos = path[4:], [], 0
    for match in _STEP.finditer(rest):
        if match.start() != pos:
            return None
        steps.append((match.group(1), int(match.group(2)) if match.group(2) is not None else None))
        pos = match.end()
    return steps if pos == len(rest) else None


def parent_path(path: str) -> str:
    return _LAST_STEP.sub("", path)


def locate(definition: dict, path: str) -> tuple[Any, Any] | None:
    """(container, key) such that container[key] is the node at `path`."""
    steps = parse_path(path)
    if steps is None:
        return None
    container: Any = definition
    key: Any = "rule"
    for name, index in steps:
        node = container[key] if _has(container, key) else None
        if not isinstance(node, dict) or name not in node:
            return None
        if name in GROUP_KINDS:
            children = node[name]
            if index is None or not isinstance(children, list) or index >= len(children):
                return None
            container, key = children, index
        else:
            if index is not None:
                return None
            container, key = node, name
    return container, key


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return isinstance(container, dict) and key in container


def node_at(definition: dict, path: str) -> Any:
    located = locate(definition, path)
    if located is None:
        return None
    container, key = located
    return container[key] if _has(container, key) else None


def group_kind(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1:
        kind = next(iter(node))
        if kind in GROUP_KINDS and isinstance(node[kind], list):
            return kind
    return None


def is_not(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"not"}


# --- values typed into the builder -------------------------------------------------------------

def convert(type_: str, text: Any) -> Any:
    """A typed string as the JSON value the checker reads: numbers as numbers, booleans as
    booleans, everything else as text. What does not convert stays text, so the checker
    names the problem next to the condition."""
    text = str(text or "").strip()
    if not text:
        return None
    if type_ == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if type_ == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if number.is_finite() and number == number.to_integral_value() and "e" not in text.lower():
            return int(number)
        return text  # kept as text: a float would lose digits; the checker reads it exactly
    if type_ == "boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
    return text


def whole_number(text: Any) -> Any:
    text = str(text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def split_list(text: str) -> list[str]:
    """"NL, DE" or one value per line (for values that hold commas)."""
    text = text or ""
    parts = text.splitlines() if "\n" in text else text.split(",")
    return [p.strip() for p in parts if p.strip()]


def shape(op: str | None) -> str:
    if op is None or op in NO_VALUE:
        return "none"
    if op in LIST_OPS:
        return "list"
    if op == "between":
        return "pair"
    if op in RELATIVE or op == "anniversary_in_next":
        return "amount"
    return "scalar"


def adapt(value: Any, old_op: str | None, new_op: str) -> Any:
    """Keep what the user typed when the operator changes, where it still fits."""
    old, new = shape(old_op), shape(new_op)
    if value is None or old == new:
        return value
    if old == "scalar" and new == "list":
        return [value]
    if old == "scalar" and new == "pair":
        return [value, None]
    if old == "list" and new == "scalar":
        return value[0] if isinstance(value, list) and value else None
    if old == "pair" and new == "scalar":
        return value[0] if isinstance(value, list) and value else None
    if old == "list" and new == "pair" and isinstance(value, list):
        return (value + [None, None])[:2]
    if old == "pair" and new == "list" and isinstance(value, list):
        return [v for v in value if v is not None] or None
    return None


def default_op(type_: str) -> str:
    if type_ in ("date", "datetime"):
        return "on"  # the date word: the picker offers no plain "is" on dates
    return "is_true" if type_ == "boolean" else "eq"


def kind_class(type_: str | None) -> str | None:
    """Types whose typed values stay meaningful when one replaces the other."""
    if type_ in ("integer", "decimal"):
        return "number"
    if type_ in ("date", "datetime"):
        return "date"
    return type_
