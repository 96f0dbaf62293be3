"""A profile's push devices on its record page (a section channels adds through
datamodel's record_sections), and switching one off from there (editors)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from apps.core.htmx import go
from apps.core.net import client_ip
from apps.datamodel.models import Entity
from apps.datamodel.views.records import record_url
from apps.tenants.decorators import can_edit, workspace_view
from apps.tenants.services import audit_record

from .. import devices

SHOWN = 50  # devices listed on a record page; a person rarely has more than a handful


def _context(request, profile_key: str) -> dict:
    subs = list(devices.push_subscription_list(workspace=request.workspace, profile_key=profile_key)[:SHOWN + 1])
    return {"devices": [(sub, devices.masked(sub)) for sub in subs[:SHOWN]], "more": len(subs) > SHOWN,
            "profile_key": profile_key, "can_edit": can_edit(request)}


def record_devices_section(request: HttpRequest, entity: Entity, key: str) -> str:
    """The push devices of a profile's record (nothing on other entities' records)."""
    if not entity.is_profile:
        return ""
    return render_to_string("channels/_record_devices.html", _context(request, key), request=request)


@require_POST
@workspace_view()
def device_deactivate(request, workspace_slug, pk):
    sub = devices.access_push_subscription(request.user, request.workspace, pk)
    if sub.active:
        devices.push_subscription_deactivate(subscription=sub, reason=f"deactivated by {request.user.email}"[:200])
        audit_record(workspace=request.workspace, actor=request.user, verb="push device deactivated", target=sub,
                     data={"platform": sub.platform}, ip_address=client_ip(request))
    if request.htmx:
        return render(request, "channels/_record_devices.html", _context(request, sub.profile_key))
    messages.success(request, "The device gets no more push messages.")
    profile = Entity.objects.filter(workspace=request.workspace, is_profile=True).first()
    if profile is None:
        return go(request, f"/w/{workspace_slug}/")
    return go(request, record_url(workspace_slug, profile.key, sub.profile_key))
