"""Template filters for the tenant screens."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if value == "":
        return "(empty)"
    return str(value)


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"old", "new"}


@register.filter
def audit_details(data: Any) -> list[str]:
    """An audit event's data as short lines: "time_zone: UTC → Europe/Amsterdam" for a
    change of settings, "viewer → marketer" for a role change, "key: value" otherwise."""
    if not isinstance(data, dict) or not data:
        return []
    if _is_change(data):
        return [f"{_show(data['old'])} → {_show(data['new'])}"]
    lines = []
    for key, value in data.items():
        if _is_change(value):
            lines.append(f"{key}: {_show(value['old'])} → {_show(value['new'])}")
        else:
            lines.append(f"{key}: {_show(value)}")
    return lines
