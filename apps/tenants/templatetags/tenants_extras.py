"""Template filters for the tenant screens."""

from __future__ import annotations

from typing import Any

from django import template

from apps.tenants import audit_words

register = template.Library()


@register.filter
def audit_details(data: Any) -> list[str]:
    """An audit event's data as short lines in words: "Time zone: UTC → Europe/Amsterdam"
    for a change of settings, "viewer → marketer" for a role change, lists as "a, b and c"."""
    return audit_words.details(data)


@register.filter
def audit_summary(event: Any) -> str:
    """The audit event as one sentence (tenants.audit_words)."""
    return audit_words.summary(event.verb, event.target_repr, event.data)
