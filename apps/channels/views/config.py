"""The email configuration page (workspace admins): SMTP server or email service, the
secret (write-only: the page shows only how it ends; an empty password field keeps it),
sender defaults, throttling, and a test email sent through the saved configuration. The
flow is the one of every channel settings page (settings_page.py)."""

from __future__ import annotations

from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import configuration
from ..forms import EmailConfigForm, TestSendForm
from . import settings_page

ADMIN = WorkspaceRole.ADMIN

SCREEN = settings_page.Screen(
    channel="email", template="channels/email_settings.html", url_name="chan-email-settings",
    test_url_name="chan-email-test", form=EmailConfigForm, save=configuration.channel_config_save,
    saved="Email configuration saved.", test_form=TestSendForm, test_field="address",
    test=lambda request, data: configuration.channel_config_test_send(
        workspace=request.workspace, actor=request.user, address=data["address"]),
    sent=lambda data, via: f"Sent to {data['address']} via {via}.",
    error_fields={"use_ssl": "security"})


@workspace_view(read_role=ADMIN, write_role=ADMIN)
def email_settings(request, workspace_slug):
    return settings_page.edit(SCREEN, request)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def email_test(request, workspace_slug):
    """One plain email through the saved configuration; the server's reply when it fails."""
    return settings_page.test(SCREEN, request)
