"""Trigger variables in activity settings. Anywhere in an activity's settings, the object
`{"$var": "name"}` (or `{"$var": "name", "default": value}`) stands for the run's
variable `name` (the partner's trigger sends them: `POST .../campaigns/<id>/trigger`
with `{"variables": {...}}`); the default applies when the run has no such variable
(runs started by hand or by a schedule have none).

The executor substitutes the placeholders when it builds the activity's node, then checks
the settings again with the real values before the activity runs. At publish the graph
check substitutes each placeholder's default; a placeholder without a default is checked
with an empty value (null), so one in a typed place (a rule's value) must carry a default
to pass the publish check, while one in a free place (a label, a text) needs none."""

from __future__ import annotations

from typing import Any

from .activities import SettingsError

MARKER = "$var"


class MissingVariable(SettingsError):
    def __init__(self, name: str, node_id: str):
        self.name = name
        super().__init__(f"{node_id}: the variable {name!r} is not set by this run's trigger and has no default "
                         f"(give it in the trigger's variables, or add a \"default\" to the placeholder).")


def is_placeholder(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get(MARKER), str)
            and set(value) <= {MARKER, "default"})


def placeholders(value: Any) -> list[dict[str, Any]]:
    """Every placeholder in a settings value, in document order."""
    if is_placeholder(value):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in placeholders(v)]
    return []


def substitute(value: Any, variables: dict[str, Any] | None, *, node_id: str, strict: bool = True) -> Any:
    """A copy of `value` with each placeholder replaced by its variable, else its default.
    A missing variable without a default raises MissingVariable when `strict`, else
    becomes None (the publish check's stand-in)."""
    variables = variables or {}
    if is_placeholder(value):
        name = value[MARKER]
        if name in variables:
            return variables[name]
        if "default" in value:
            return value["default"]
        if strict:
            raise MissingVariable(name, node_id)
        return None
    if isinstance(value, dict):
        return {k: substitute(v, variables, node_id=node_id, strict=strict) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, node_id=node_id, strict=strict) for v in value]
    return value
