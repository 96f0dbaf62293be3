"""The SMS configuration page (workspace admins): Twilio or Vonage, the account and its
secret (write-only: the page shows only how it ends), the sender, throughput, price per
segment and segment limit, and a test SMS through the saved configuration."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import add_errors
from apps.core.net import client_ip
from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import selectors, smsconfig
from ..forms import SmsConfigForm, SmsTestForm
from ..proof_limits import ProofRateLimited
from .config import _hint

ADMIN = WorkspaceRole.ADMIN


def _page(request, form, test_form=None, status=200):
    config = selectors.channel_config(workspace=request.workspace, channel="sms")
    return render(request, "channels/sms_settings.html", {
        "form": form, "config": config, "secret_hint": _hint(config), "test_form": test_form or SmsTestForm(),
    }, status=status)


@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sms_settings(request, workspace_slug):
    config = selectors.channel_config(workspace=request.workspace, channel="sms")
    if request.method != "POST":
        return _page(request, SmsConfigForm(initial=SmsConfigForm.initial_for(config)))
    form = SmsConfigForm(request.POST)
    if form.is_valid():
        try:
            smsconfig.sms_config_save(workspace=request.workspace, actor=request.user, ip_address=client_ip(request),
                                      **form.save_arguments())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "SMS configuration saved.")
            return redirect("chan-sms-settings", workspace_slug=workspace_slug)
    return _page(request, form, status=422)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sms_test(request, workspace_slug):
    """One SMS through the saved configuration; the provider's answer when it fails."""
    form = SmsTestForm(request.POST)
    context = {"test_form": form}
    limited = None
    if form.is_valid():
        try:
            context["test_via"] = smsconfig.sms_test_send(workspace=request.workspace, actor=request.user,
                                                          phone=form.cleaned_data["phone"])
        except ProofRateLimited as exc:
            context["test_error"], limited = exc.message, exc.retry_after
        except ValidationError as exc:
            context["test_error"] = " ".join(exc.message_dict.get("phone", exc.messages))
    status = 429 if limited is not None else 200
    if request.htmx:
        response = render(request, "channels/sms_settings.html#sms-test", context, status=status)
    else:
        if "test_via" in context:
            messages.success(request, f"Test SMS sent: {context['test_via']}.")
        else:
            messages.error(request, context.get("test_error") or "Give a phone number.")
        response = redirect("chan-sms-settings", workspace_slug=workspace_slug)
    if limited is not None:
        response["Retry-After"] = str(limited)
    return response
