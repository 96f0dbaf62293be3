"""The JSON Schema (draft 2020-12) of a campaign definition, `definition.schema.json`
beside this module: the structure every saved or published definition must have. The
graph check (graph.check_graph) validates against it first, each schema error becoming a
problem with its JSON path; the API serves it for partners' tooling."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from .activities import REGISTRY

SCHEMA_PATH = Path(__file__).with_name("definition.schema.json")
HEADER_FIELDS = ("from_email", "reply_to", "from_name", "subject")  # an email's one-line fields


@cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def definition_schema() -> dict[str, Any]:
    """The schema document, its `type` enum listing exactly the registered activities."""
    document = copy.deepcopy(_document())
    document["$defs"]["node"]["properties"]["type"]["enum"] = sorted(REGISTRY)
    return document


_VALIDATOR: tuple[tuple[str, ...], Draft202012Validator] | None = None


def _validator() -> Draft202012Validator:
    global _VALIDATOR
    key = tuple(sorted(REGISTRY))
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


def _message(error: SchemaError) -> str:
    """The error in words for the marketer (jsonschema's own wording for the rest)."""
    field = error.path[-1] if error.path else None
    if error.validator == "enum" and field == "type":
        return f"unknown activity type {error.instance!r}"
    if error.validator == "pattern" and field in ("id", "from", "to"):
        return f"{error.instance!r} is not an activity id: 1-30 lowercase letters, digits or _, starting with a letter"
    if error.validator == "anyOf" and field in HEADER_FIELDS:  # $defs/headerText
        return (f"{field} must be one line of text (line breaks and NUL characters are not allowed in an email "
                "header) or a trigger variable")
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
    return [{"node": _node_name(definition, list(e.path)), "message": f"{_message(e)} (at {e.json_path})."}
            for e in errors]
