"""The JSON Schema (draft 2020-12) of a campaign definition: the structure every saved or
published definition must have. `definition.schema.json` beside this module is campaigns'
part; the registered activities add theirs (their type in the `type` enum, a rule for
their settings, the $defs it uses: activities/base.py). The graph check
(graph.check_graph) validates against it first, each schema error becoming a problem with
its JSON path; the API serves it for partners' tooling."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from .activities import REGISTRY, Activity

SCHEMA_PATH = Path(__file__).with_name("definition.schema.json")


@cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def definition_schema() -> dict[str, Any]:
    """The schema document: its `type` enum lists exactly the registered activities, the
    node's allOf holds each activity's rule for its settings (in catalog order), and the
    $defs those rules use follow the node's."""
    document = copy.deepcopy(_document())
    node = document["$defs"]["node"]
    node["properties"]["type"]["enum"] = sorted(REGISTRY)
    rules, defs = [], {}
    for activity in REGISTRY.values():
        if activity.settings_schema is not None:
            rule = {"description": activity.settings_schema_description} if activity.settings_schema_description else {}
            rules.append({**rule, "if": {"properties": {"type": {"const": activity.type}}, "required": ["type"]},
                          "then": {"properties": {"settings": copy.deepcopy(activity.settings_schema)}}})
        for name, schema in activity.schema_defs.items():
            defs.setdefault(name, copy.deepcopy(schema))
    if rules:
        node["allOf"] = rules
    if defs:
        own = list(document["$defs"].items())
        at = [name for name, _ in own].index("node") + 1
        document["$defs"] = dict(own[:at] + list(defs.items()) + own[at:])
    return document


_VALIDATOR: tuple[tuple[Any, ...], Draft202012Validator] | None = None


def _validator() -> Draft202012Validator:
    global _VALIDATOR
    key = tuple((name, type(activity)) for name, activity in sorted(REGISTRY.items()))
    if _VALIDATOR is None or _VALIDATOR[0] != key:
        _VALIDATOR = (key, Draft202012Validator(definition_schema()))
    return _VALIDATOR[1]


def _node_name(definition: Any, path: list[Any]) -> str:
    """The activity an error is in: its id when it has a readable one, else its path."""
    if len(path) >= 2 and path[0] in ("nodes", "edges") and isinstance(path[1], int):
        item = definition[path[0]][path[1]]
        if path[0] == "nodes" and isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            return item["id"][:30]
        return f"{path[0]}[{path[1]}]"
    return ""


def _activity(definition: Any, path: list[Any]) -> Activity | None:
    """The registered activity of the node an error is in, if any."""
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
        node = definition["nodes"][path[1]]
        if isinstance(node, dict) and isinstance(node.get("type"), str):
            return REGISTRY.get(node["type"])
    return None


def _message(error: SchemaError, activity: Activity | None) -> str:
    """The error in words for the marketer (jsonschema's own wording for the rest)."""
    field = error.path[-1] if error.path else None
    if error.validator == "enum" and field == "type":
        return f"unknown activity type {error.instance!r}"
    if error.validator == "pattern" and field in ("id", "from", "to"):
        return f"{error.instance!r} is not an activity id: 1-30 lowercase letters, digits or _, starting with a letter"
    own = activity.schema_message(error) if activity is not None else None
    if own is not None:
        return own
    if error.validator == "maxItems" and field == "nodes":
        return f"a campaign holds at most {error.validator_value} activities"
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{error.message} (allowed: {allowed})"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def schema_problems(definition: Any) -> list[dict[str, str]]:
    """Every schema error as {"node", "message"}, the message ending with its JSON path,
    e.g. {"node": "x", "message": "unknown activity type 'teleport' (at $.nodes[1].type)."}."""
    errors = sorted(_validator().iter_errors(definition), key=lambda e: [(0, p) if isinstance(p, int) else (1, str(p)) for p in e.path])
    return [{"node": _node_name(definition, list(e.path)),
             "message": f"{_message(e, _activity(definition, list(e.path)))} (at {e.json_path})."} for e in errors]
