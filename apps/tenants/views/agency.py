"""Agency management: owners and admins create, rename, archive and restore the agency's
client workspaces and invite people into them. The agency's home page itself (with each
client's figures) belongs to the reports app, which reads what these pages change."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.net import client_ip

from .. import lifecycle, services
from ..access import access_org_workspace, access_organization
from ..forms import AgencyInviteForm, WorkspaceCreateForm, WorkspaceRenameForm
from ..selectors import organization_workspaces


@login_required
def workspace_new(request, org_slug):
    organization, role = access_organization(request.user, org_slug, manage=True)
    form = WorkspaceCreateForm(request.POST or None, initial={"time_zone": "UTC", "default_language": "en"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                workspace = services.workspace_create(organization=organization, actor=request.user, **data)
        except ValidationError as exc:
            form.add_error(None, exc)
        except IntegrityError:
            form.add_error("slug", "This address is taken: choose another slug.")
        else:
            messages.success(request, f"{workspace.name} is ready.")
            return redirect("ws-home", workspace_slug=workspace.slug)
    status = 422 if request.method == "POST" else 200
    return render(request, "tenants/agency_workspace_new.html", {"organization": organization, "form": form},
                  status=status)


@require_POST
@login_required
def workspace_rename(request, org_slug, workspace_slug):
    organization, _ = access_organization(request.user, org_slug, manage=True)
    workspace = access_org_workspace(organization, workspace_slug)
    form = WorkspaceRenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not renamed: {form.errors.get('name', ['a name is needed'])[0]}")
        return redirect("agency-home", org_slug=organization.slug)
    try:
        services.workspace_update(workspace=workspace, actor=request.user, ip_address=client_ip(request),
                                  name=form.cleaned_data["name"])
    except ValidationError as exc:
        messages.error(request, f"Not renamed: {' '.join(exc.messages)}")
    else:
        messages.success(request, f"Renamed to {workspace.name}.")
    return redirect("agency-home", org_slug=organization.slug)


@require_POST
@login_required
def workspace_archive(request, org_slug, workspace_slug):
    organization, _ = access_organization(request.user, org_slug, manage=True)
    workspace = access_org_workspace(organization, workspace_slug)
    if workspace.archived_at is None:
        lifecycle.workspace_archive(workspace=workspace, actor=request.user)
        messages.success(request, f"{workspace.name} is archived: read-only, schedules paused, nothing sent.")
    return redirect("agency-home", org_slug=organization.slug)


@require_POST
@login_required
def workspace_restore(request, org_slug, workspace_slug):
    organization, _ = access_organization(request.user, org_slug, manage=True)
    workspace = access_org_workspace(organization, workspace_slug)
    if workspace.archived_at is not None:
        lifecycle.workspace_restore(workspace=workspace, actor=request.user)
        messages.success(request, f"{workspace.name} is restored.")
    return redirect("agency-home", org_slug=organization.slug)


@require_POST
@login_required
def invite(request, org_slug):
    organization, role = access_organization(request.user, org_slug, manage=True)
    workspaces = organization_workspaces(organization=organization, user=request.user, role=role, archived=False)
    form = AgencyInviteForm(request.POST, workspaces=workspaces)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        messages.error(request, f"Nobody was invited ({errors}).")
        return redirect("agency-home", org_slug=organization.slug)
    workspace = access_org_workspace(organization, form.cleaned_data["workspace"])
    try:
        result, obj = services.member_add_by_email(workspace=workspace, actor=request.user,
                                                   email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                                                   ip_address=client_ip(request))
    except ValidationError as exc:
        messages.error(request, f"Nobody was invited: {' '.join(exc.messages)}")
    else:
        messages.success(request, f"{obj.email} was added to {workspace.name}." if result == "added"
                         else f"An invitation to {workspace.name} was emailed to {obj.email}.")
    return redirect("agency-home", org_slug=organization.slug)


@require_POST
@login_required
def agency_logo(request, org_slug):
    """The agency's logo on the reports it sends its clients (owners and admins)."""
    organization, _ = access_organization(request.user, org_slug, manage=True)
    upload = request.FILES.get("logo")
    try:
        services.brand_logo_set(owner=organization, actor=request.user,
                                upload=upload if upload else None)
    except ValidationError as exc:
        messages.error(request, f"The logo was not changed: {' '.join(exc.messages)}")
    else:
        messages.success(request, "The agency's logo is saved." if upload else "The agency's logo is removed.")
    return redirect("agency-home", org_slug=organization.slug)
