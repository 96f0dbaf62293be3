"""The email configuration page (workspace admins): SMTP server or email service, the
secret (write-only: the page shows only how it ends; an empty password field keeps it),
sender defaults, throttling, and a test email sent through the saved configuration."""

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

from .. import configuration, selectors
from ..forms import EmailConfigForm, TestSendForm
from ..proof_limits import ProofRateLimited

ADMIN = WorkspaceRole.ADMIN


def _hint(config) -> str:
    if config is None or not config.secret_encrypted:
        return ""
    try:
        return config.secret_hint
    except ValueError:
        return "(stored, but it cannot be decrypted with this server's key: enter it again)"


def _page(request, form, test_form=None, status=200):
    config = selectors.channel_config(workspace=request.workspace)
    return render(request, "channels/email_settings.html", {
        "form": form, "config": config, "secret_hint": _hint(config), "test_form": test_form or TestSendForm(),
    }, status=status)


@workspace_view(read_role=ADMIN, write_role=ADMIN)
def email_settings(request, workspace_slug):
    config = selectors.channel_config(workspace=request.workspace)
    if request.method != "POST":
        return _page(request, EmailConfigForm(initial=EmailConfigForm.initial_for(config)))
    form = EmailConfigForm(request.POST)
    if form.is_valid():
        try:
            configuration.channel_config_save(workspace=request.workspace, actor=request.user,
                                              ip_address=client_ip(request), **form.save_arguments())
        except ValidationError as exc:
            add_errors(form, exc, fields={"use_ssl": "security"})
        else:
            messages.success(request, "Email configuration saved.")
            return redirect("chan-email-settings", workspace_slug=workspace_slug)
    return _page(request, form, status=422)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def email_test(request, workspace_slug):
    """One plain email through the saved configuration; the server's reply when it fails."""
    form = TestSendForm(request.POST)
    context = {"test_form": form}
    limited = None
    if form.is_valid():
        try:
            context["test_via"] = configuration.channel_config_test_send(
                workspace=request.workspace, actor=request.user, address=form.cleaned_data["address"])
        except ProofRateLimited as exc:
            context["test_error"], limited = exc.message, exc.retry_after
        except ValidationError as exc:
            context["test_error"] = " ".join(exc.message_dict.get("address", exc.messages))
    if limited is not None:
        if request.htmx:
            response = render(request, "channels/email_settings.html#email-test", context, status=429)
        else:
            messages.error(request, context["test_error"])
            config = selectors.channel_config(workspace=request.workspace)
            response = _page(request, EmailConfigForm(initial=EmailConfigForm.initial_for(config)), form, status=429)
        response["Retry-After"] = str(limited)
        return response
    if request.htmx:
        return render(request, "channels/email_settings.html#email-test", context)
    if "test_via" in context:
        messages.success(request, f"Test email sent to {form.cleaned_data['address']} via {context['test_via']}.")
    else:
        messages.error(request, context.get("test_error") or "Give an email address.")
    return redirect("chan-email-settings", workspace_slug=workspace_slug)
