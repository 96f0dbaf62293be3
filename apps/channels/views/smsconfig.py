"""The SMS configuration page (workspace admins): Twilio or Vonage, the account and its
secret (write-only: the page shows only how it ends), the sender, throughput, price per
segment and segment limit, and a test SMS through the saved configuration. The flow is
the one of every channel settings page (settings_page.py)."""

from __future__ import annotations

from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import smsconfig
from ..forms import SmsConfigForm, SmsTestForm
from . import settings_page

ADMIN = WorkspaceRole.ADMIN

SCREEN = settings_page.Screen(
    channel="sms", template="channels/sms_settings.html", url_name="chan-sms-settings",
    test_url_name="chan-sms-test", form=SmsConfigForm, save=smsconfig.sms_config_save,
    saved="SMS configuration saved.", test_form=SmsTestForm, test_field="phone",
    test=lambda request, data: smsconfig.sms_test_send(workspace=request.workspace, actor=request.user,
                                                       phone=data["phone"]),
    sent=lambda data, via: f"Sent: {via}.",
    extra=lambda request, config: {"status_webhook": smsconfig.status_webhook(request.workspace, config),
                                   "has_signing_secret": bool(config and config.signing_secret_encrypted)})


@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sms_settings(request, workspace_slug):
    return settings_page.edit(SCREEN, request)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sms_test(request, workspace_slug):
    """One SMS through the saved configuration; the provider's answer when it fails."""
    return settings_page.test(SCREEN, request)
