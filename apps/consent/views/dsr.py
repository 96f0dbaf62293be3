"""Data subject requests in the UI (workspace admins only): find a profile by key, email
or phone (several profiles with that address are listed, never guessed) and see
what is kept about it (counts, no data on screen), download the export, erase it after
typing the key again. Export and erasure are audited by the services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import partial_name, render_partial
from apps.core.net import client_ip
from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import dsr, dsr_lookup
from ..dsr import export_response

ADMIN = WorkspaceRole.ADMIN


@vary_on_headers("HX-Request")
@require_GET
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def dsr_home(request, workspace_slug):
    key = (request.GET.get("key") or "").strip()
    context: dict = {"key": key}
    if key:
        try:
            subject = dsr_lookup.find_subject(request.workspace, key)
        except Http404:
            context["missing"] = True
        except dsr_lookup.Ambiguous as exc:
            context["ambiguous"] = exc
        except ValidationError as exc:
            context["invalid"] = " ".join(exc.messages)
        else:
            context["subject"] = subject
            context["counts"] = dsr.counts_of(dsr.profile_data(subject))
    return render_partial(request, "consent/dsr.html", "dsr-summary", context)


@require_GET
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def dsr_export(request, workspace_slug, key):
    subject = dsr.access_subject(request.workspace, key)
    return export_response(request.workspace, request.user, subject, client_ip(request))


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view(read_role=ADMIN, write_role=ADMIN)
def dsr_erase(request, workspace_slug, key):
    subject = dsr.access_subject(request.workspace, key)
    context = {"subject": subject, "counts": dsr.counts_of(dsr.profile_data(subject))}
    if request.method != "POST":
        return render(request, "consent/dsr_erase.html", context)
    try:
        result = dsr.profile_erase(workspace=request.workspace, actor=request.user, subject=subject,
                                   confirm=request.POST.get("confirm", ""), ip_address=client_ip(request))
    except ValidationError as exc:
        context["error"] = " ".join(exc.message_dict.get("confirm", exc.messages))
        return render(request, partial_name(request, "consent/dsr_erase.html", "erase-form"), context, status=422)
    if request.htmx:
        return render(request, "consent/dsr_erase.html#erase-form", {**context, "result": result})
    messages.success(request, f"Profile {subject.key} erased; its history is kept as {result.pseudonym}.")
    return redirect("dsr-home", workspace_slug=workspace_slug)
