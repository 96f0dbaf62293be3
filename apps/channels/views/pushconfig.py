"""The push settings page: every member reads it, workspace admins change it. The VAPID
public key is shown (the private one never), new keys are generated only after a
confirmation (browsers subscribed with the old key must subscribe again), the FCM service
account and the APNs .p8 key are uploaded and stored encrypted (shown back only as the
project id and client email, or "set"), the website origins allowed to register browsers,
the snippet to put on those sites with the service worker to download, and a test push
to one device. The flow is the one of every channel settings page (settings_page.py)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.net import client_ip
from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import devices, push_config
from ..push_forms import PushConfigForm, PushKeysForm, PushTestForm
from . import settings_page

ADMIN = WorkspaceRole.ADMIN
VIEWER = WorkspaceRole.VIEWER


def _browser_urls(request, workspace) -> dict[str, str]:
    slug = workspace.slug
    return {"subscribe_url": request.build_absolute_uri(reverse("push-browser-subscribe", args=[slug])),
            "unsubscribe_url": request.build_absolute_uri(reverse("push-browser-unsubscribe", args=[slug]))}


def _extra(request, config) -> dict:
    view = push_config.push_config_view(config)
    return {"push": view, "keys_form": PushKeysForm(), **_browser_urls(request, request.workspace),
            "snippet_url": request.build_absolute_uri(static("push/orchestrate-push.js")),
            "token_api": request.build_absolute_uri(reverse("api-push-profile-tokens", args=[request.workspace.slug])),
            "devices_active": devices.push_subscription_list(workspace=request.workspace, active=True).count()}


SCREEN = settings_page.Screen(
    channel="push", template="channels/push_settings.html", url_name="chan-push-settings",
    test_url_name="chan-push-test", form=PushConfigForm, save=push_config.push_config_save,
    saved="Push configuration saved.", test_form=PushTestForm, test_field="device",
    test=lambda request, data: push_config.push_test_send(workspace=request.workspace, actor=request.user,
                                                          device_id=data["device"]),
    sent=lambda data, via: f"Sent to the {via}.",
    error_fields={"fcm_service_account.project_id": "fcm_service_account",
                  "fcm_service_account.client_email": "fcm_service_account",
                  "fcm_service_account.private_key": "fcm_service_account",
                  "fcm_service_account.token_uri": "fcm_service_account"},
    extra=_extra, files=True)


@workspace_view(read_role=VIEWER, write_role=ADMIN)
def push_settings(request, workspace_slug):
    return settings_page.edit(SCREEN, request)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def push_test(request, workspace_slug):
    """One test notification to a chosen device; the push service's answer when it fails."""
    return settings_page.test(SCREEN, request)


@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def push_keys(request, workspace_slug):
    """A new VAPID key pair. When there is one already, only with the confirmation: every
    browser subscribed with the old public key stops getting push."""
    config = push_config.config_of(request.workspace)
    view = push_config.push_config_view(config)
    form = PushKeysForm(request.POST)
    if view["web_push"] and not (form.is_valid() and form.cleaned_data["confirm"]):
        messages.error(request, "New keys were not made: tick the confirmation first (browsers subscribed with "
                                "the current key would stop getting push).")
        return redirect("chan-push-settings", workspace_slug=workspace_slug)
    push_config.push_config_save(workspace=request.workspace, actor=request.user, options=view["options"],
                                 generate_vapid=True, ip_address=client_ip(request))
    messages.success(request, "New VAPID keys made. Browsers subscribe again with the new public key."
                     if view["web_push"] else "VAPID keys made: websites can now subscribe browsers.")
    return redirect("chan-push-settings", workspace_slug=workspace_slug)


def service_worker_script(request, workspace) -> str:
    """The service worker a client's website serves from its own origin, with the
    workspace's public key and registration URLs filled in."""
    view = push_config.push_config_view(push_config.config_of(workspace))
    urls = _browser_urls(request, workspace)
    settings_json = json.dumps({"vapidPublicKey": view["vapid_public_key"], "subscribeUrl": urls["subscribe_url"],
                                "unsubscribeUrl": urls["unsubscribe_url"]})
    # JSON inside a script file: only "<" could matter (never inside HTML here, but cheap).
    return render_to_string("channels/push_service_worker.js", {
        "settings_json": settings_json.replace("<", "\\u003c"), "workspace": workspace})


@require_GET
@workspace_view(read_role=VIEWER, write_role=ADMIN)
def push_service_worker(request, workspace_slug):
    response = HttpResponse(service_worker_script(request, request.workspace),
                            content_type="text/javascript; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="orchestrate-sw.js"'
    response["Cache-Control"] = "no-store"
    return response
