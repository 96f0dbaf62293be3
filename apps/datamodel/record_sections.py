"""Sections that higher apps add to a record's page (datamodel cannot import them): the
push devices of a profile (channels), for instance. A provider is called with the request,
the entity and the record's key, and returns the section's HTML, or "" when it has nothing
to show for this record. Apps append their provider in their AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

from .models import Entity

RecordSection = Callable[[HttpRequest, Entity, str], str]

RECORD_SECTIONS: list[RecordSection] = []


def sections_for(request: HttpRequest, entity: Entity, key: str) -> list[SafeString]:
    """The sections of one record's page, in the order their apps registered."""
    return [SafeString(html) for provider in RECORD_SECTIONS if (html := provider(request, entity, key))]
