"""Django admin actions that change a lifecycle through the app's services (the audit
entry, the beat schedule, the held messages come with it), never by editing `status`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError


def service_action(name: str, description: str, call: Callable[[Any, Any], Any], done: str) -> Callable:
    """An admin action `name` running `call(request, obj)` for each selected object; a
    ValidationError from the service is reported per object and the others go on."""

    def action(modeladmin, request, queryset):
        count = 0
        for obj in queryset:
            try:
                call(request, obj)
                count += 1
            except ValidationError as exc:
                modeladmin.message_user(request, f"{obj}: {' '.join(exc.messages)}", messages.ERROR)
        if count:
            modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)

    action.__name__ = name
    return admin.action(description=description)(action)


class NoAddAdmin(admin.ModelAdmin):
    """Rows the application makes itself (append-only records, or rows a service must
    create with what goes with them): the admin never adds one."""

    def has_add_permission(self, request, obj=None):
        return False
