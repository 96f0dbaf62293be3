"""The workspace home is a dashboard whose panels the layers above provide (reports: the
client's last 30 days): each registers a function (request) -> HTML, called in order.
Tenants is the lowest layer and cannot know what they show."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

PANELS: list[Callable[[HttpRequest], str]] = []


def panels(request: HttpRequest) -> list[str]:
    return [panel(request) for panel in PANELS]
