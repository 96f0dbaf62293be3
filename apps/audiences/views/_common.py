"""Bits the audience screens share."""

from __future__ import annotations

from django.urls import reverse

from apps.tenants.roles import WorkspaceRole

from ..models import Audience

MARKETER = WorkspaceRole.MARKETER
VIEWER = WorkspaceRole.VIEWER


def detail_url(audience: Audience) -> str:
    return reverse("aud-detail", kwargs={"workspace_slug": audience.workspace.slug, "pk": audience.pk})


def list_definition(audience: Audience) -> dict:
    """What a saved audience is, as a definition the preview endpoints evaluate: a rule's
    own definition, or 'the records in this list'."""
    if audience.is_list:
        return {"entity": audience.entity.key, "rule": {"in_audience": audience.pk}}
    return audience.definition


def default_attribute(attributes) -> str | None:
    """The attribute whose top values are offered first: a category, not the key."""
    for wanted in (("enum",), ("text",), ("integer", "decimal", "date", "datetime", "boolean", "email", "phone")):
        for attribute in attributes:
            if attribute.type in wanted and not attribute.is_primary_key:
                return attribute.key
    return attributes[0].key if attributes else None
