"""Sender domains (workspace admins), under the email configuration: add a domain (its
confirmation link is mailed to a role mailbox there), send the link again, delete one.
The link itself opens a public page (no login: whoever reads postmaster@ need not have an
account) that asks for one click to confirm; a GET alone confirms nothing, so mail
scanners that follow links cannot verify a domain."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import add_errors, partial_name
from apps.core.net import client_ip
from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import senders
from ..forms import SenderDomainForm

ADMIN = WorkspaceRole.ADMIN


def _render(request, form=None, status=200, **context):
    # The status is the outcome's for a plain form too (201 added, 422 refused).
    return render(request, partial_name(request, "channels/sender_domains.html", "sender-domains"), {
        "form": form or SenderDomainForm(), "domains": senders.sender_domain_list(workspace=request.workspace),
        "platform": senders.uses_platform_server(request.workspace), **context}, status=status)


@vary_on_headers("HX-Request")
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sender_domains(request, workspace_slug):
    if request.method != "POST":
        return _render(request)
    form = SenderDomainForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=422)
    try:
        sender = senders.sender_domain_add(workspace=request.workspace, actor=request.user,
                                           domain=form.cleaned_data["domain"], mailbox=form.cleaned_data["mailbox"],
                                           ip_address=client_ip(request))
    except ValidationError as exc:
        add_errors(form, exc)
        return _render(request, form, status=422)
    return _render(request, notice=f"Confirmation link sent to {sender.confirm_address}.", status=201)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sender_domain_resend(request, workspace_slug, pk):
    sender = senders.access_sender_domain(request.user, request.workspace, pk)
    try:
        senders.sender_domain_send_link(workspace=request.workspace, actor=request.user, sender_domain=sender,
                                        mailbox=request.POST.get("mailbox") or "postmaster",
                                        ip_address=client_ip(request))
    except ValidationError as exc:
        return _render(request, error=" ".join(exc.messages), status=422)
    return _render(request, notice=f"Confirmation link sent again to {sender.confirm_address}.")


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sender_domain_check_dns(request, workspace_slug, pk):
    """Look for the domain's TXT record now."""
    sender = senders.access_sender_domain(request.user, request.workspace, pk)
    try:
        sender = senders.sender_domain_check_dns(workspace=request.workspace, actor=request.user,
                                                 sender_domain=sender, ip_address=client_ip(request))
    except ValidationError as exc:
        return _render(request, error=" ".join(exc.messages), status=422)
    if sender.status == "verified":
        return _render(request, notice=f"{sender.domain} is verified: its TXT record was found.")
    return _render(request, error=f"{sender.domain}: {sender.dns_result}.")


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def sender_domain_delete(request, workspace_slug, pk):
    sender = senders.access_sender_domain(request.user, request.workspace, pk)
    senders.sender_domain_delete(workspace=request.workspace, actor=request.user, sender_domain=sender,
                                 ip_address=client_ip(request))
    return _render(request, notice=f"{sender.domain} removed.")


@require_http_methods(["GET", "POST"])
def sender_domain_confirm(request, token):
    """Public: the page of a confirmation link."""
    sender = senders.sender_domain_find(token=token)
    if sender is None:
        return render(request, "channels/sender_domain_confirm.html", {"invalid": True}, status=404)
    if request.method == "POST":
        try:
            sender = senders.sender_domain_confirm(token=token, ip_address=client_ip(request))
        except ValidationError:
            return render(request, "channels/sender_domain_confirm.html", {"invalid": True}, status=404)
        return render(request, "channels/sender_domain_confirm.html", {"sender": sender, "done": True})
    return render(request, "channels/sender_domain_confirm.html", {"sender": sender})
