"""Workspace pages: home, members, API keys, settings, audit log; invitation acceptance."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import add_errors, render_partial
from apps.core.net import client_ip

from .. import dashboard, services
from ..access import access_api_key, access_invitation
from ..decorators import LAST_WORKSPACE_COOKIE, is_admin, workspace_view
from ..forms import (
    ApiKeyForm,
    InvitationAcceptForm,
    MemberAddForm,
    MemberRoleForm,
    WorkspaceSettingsForm,
)
from ..models import AuditEvent, Organization, OrganizationRole, Workspace
from ..roles import WorkspaceRole
from ..selectors import (
    access_member,
    api_key_list,
    audit_recent,
    open_invitations,
    organizations_for_user,
    workspace_members,
    workspaces_for_user,
)


@login_required
def home(request):
    """Where login lands: an agency owner's or admin's agency home (the agency of the last
    workspace they opened, if they manage it); anyone else's last workspace still in
    reach, else their first; a page that says there is none."""
    reachable = workspaces_for_user(request.user)
    remembered = request.COOKIES.get(LAST_WORKSPACE_COOKIE, "")[:50]
    last = reachable.filter(slug=remembered).first() if remembered else None
    managed = [org for org, role in organizations_for_user(request.user)
               if role in (OrganizationRole.OWNER, OrganizationRole.ADMIN)]
    if managed:
        org = next((o for o in managed if last and o.pk == last.organization_id), managed[0])
        return redirect("agency-home", org_slug=org.slug)
    first = last or reachable.first()
    if first is not None:
        return redirect("ws-home", workspace_slug=first.slug)
    return render(request, "tenants/no_workspace.html")


@workspace_view()
def workspace_home(request, workspace_slug):
    ws = request.workspace
    return render(request, "tenants/workspace_home.html", {
        "panels": dashboard.panels(request),
        "members": workspace_members(workspace=ws),
        "events": audit_recent(workspace=ws, limit=15),
        "is_admin": is_admin(request),
    })


def _members_context(request, add_form=None):
    ws = request.workspace
    return {
        "members": workspace_members(workspace=ws),
        "invitations": open_invitations(workspace=ws),
        "add_form": add_form or MemberAddForm(),
        "role_choices": WorkspaceRole.choices,
        "is_admin": is_admin(request),
    }


@vary_on_headers("HX-Request")
@workspace_view(write_role=WorkspaceRole.ADMIN)
def members(request, workspace_slug):
    """List members; a workspace admin adds an existing user or invites by email."""
    # Bind on every POST: `request.POST or None` would leave an empty POST unbound and
    # report it as a success.
    form = MemberAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                result, obj = services.member_add_by_email(
                    workspace=request.workspace, actor=request.user, ip_address=client_ip(request),
                    **form.cleaned_data)
            except ValidationError as exc:
                form.add_error("email", exc.messages[0])
            else:
                text = (f"{obj.email} was added as {WorkspaceRole(form.cleaned_data['role']).label}."
                        if result == "added" else f"An invitation was emailed to {obj.email}.")
                messages.success(request, text)
                if not request.htmx:
                    # Post/redirect/get: reloading the page must not add or invite again.
                    return redirect("ws-members", workspace_slug=workspace_slug)
                form = MemberAddForm()
        status = 200 if form.is_bound is False or not form.errors else 422
        return render_partial(request, "tenants/members.html", "members-panel", _members_context(request, form),
                              status=status, trigger=None if form.errors else "membersChanged")
    return render_partial(request, "tenants/members.html", "members-panel", _members_context(request))


def _members_changed(request, workspace_slug):
    """After a change on the members page: its panel for htmx (and a membersChanged event),
    the page again otherwise."""
    if request.htmx:
        return render_partial(request, "tenants/members.html", "members-panel", _members_context(request),
                              trigger="membersChanged")
    return redirect("ws-members", workspace_slug=workspace_slug)


@require_POST
@workspace_view(write_role=WorkspaceRole.ADMIN)
def member_role(request, workspace_slug, user_id):
    user = access_member(request.user, request.workspace, user_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        services.member_set_role(workspace=request.workspace, actor=request.user, user=user,
                                 role=form.cleaned_data["role"], ip_address=client_ip(request))
        messages.success(request, f"{user.email} is now {WorkspaceRole(form.cleaned_data['role']).label}.")
    else:
        messages.error(request, "Choose one of the listed roles.")
    return _members_changed(request, workspace_slug)


@require_POST
@workspace_view(write_role=WorkspaceRole.ADMIN)
def member_remove(request, workspace_slug, user_id):
    user = access_member(request.user, request.workspace, user_id)
    services.member_remove(workspace=request.workspace, actor=request.user, user=user,
                           ip_address=client_ip(request))
    messages.success(request, f"{user.email} was removed from {request.workspace.name}.")
    return _members_changed(request, workspace_slug)


@require_POST
@workspace_view(write_role=WorkspaceRole.ADMIN)
def invitation_cancel(request, workspace_slug, pk):
    invitation = access_invitation(request.user, request.workspace, pk)
    services.invitation_cancel(workspace=request.workspace, actor=request.user, invitation=invitation,
                               ip_address=client_ip(request))
    messages.success(request, f"The invitation to {invitation.email} was cancelled.")
    return _members_changed(request, workspace_slug)


def _keys_context(request, form=None, new_key=None):
    return {"keys": api_key_list(workspace=request.workspace), "form": form or ApiKeyForm(),
            "new_key": new_key, "now": timezone.now()}


@vary_on_headers("HX-Request")
@workspace_view(read_role=WorkspaceRole.ADMIN, write_role=WorkspaceRole.ADMIN)
def api_keys(request, workspace_slug):
    """List keys; create one (its secret is shown once, in the response)."""
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        new_key = None
        if form.is_valid():
            expires_at = form.cleaned_data["expires_at"]
            if expires_at is not None:
                # The browser sends a wall-clock time in the workspace's time zone, but the
                # form field made it aware in the current (server) zone: take back the wall
                # clock as typed and place it in the workspace's zone.
                if timezone.is_aware(expires_at):
                    expires_at = timezone.make_naive(expires_at)
                expires_at = timezone.make_aware(expires_at, request.workspace.zone)
            try:
                key, raw = services.api_key_create(
                    workspace=request.workspace, actor=request.user, name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"], expires_at=expires_at, ip_address=client_ip(request))
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                new_key = {"key": key, "raw": raw}
                form = ApiKeyForm()
        response = render_partial(request, "tenants/api_keys.html", "apikeys-panel",
                                  _keys_context(request, form, new_key), trigger="apiKeysChanged" if new_key else None)
        if new_key:
            # The page carries the secret: no browser or proxy may keep a copy.
            add_never_cache_headers(response)
        return response
    return render_partial(request, "tenants/api_keys.html", "apikeys-panel", _keys_context(request))


@require_POST
@workspace_view(read_role=WorkspaceRole.ADMIN, write_role=WorkspaceRole.ADMIN)
def api_key_revoke(request, workspace_slug, pk):
    key = access_api_key(request.user, request.workspace, pk)
    services.api_key_revoke(workspace=request.workspace, actor=request.user, api_key=key,
                            ip_address=client_ip(request))
    messages.success(request, f"The key {key.name} was revoked; it no longer authenticates.")
    if request.htmx:
        return render_partial(request, "tenants/api_keys.html", "apikeys-panel", _keys_context(request),
                              trigger="apiKeysChanged")
    return redirect("ws-apikeys", workspace_slug=workspace_slug)


@workspace_view(read_role=WorkspaceRole.ADMIN, write_role=WorkspaceRole.ADMIN)
def workspace_settings(request, workspace_slug):
    ws = request.workspace
    # instance=None on purpose: a bound ModelForm writes into its instance while validating,
    # and workspace_update() must see the old values to record them in the audit log.
    form = WorkspaceSettingsForm(request.POST if request.method == "POST" else None,
                                 request.FILES if request.method == "POST" else None, instance=None, initial={
        f: getattr(ws, f) for f in services.WORKSPACE_SETTINGS})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                changes = {f: form.cleaned_data[f] for f in services.WORKSPACE_SETTINGS}
                changes["public_url"] = changes["public_url"].rstrip("/")
                services.workspace_update(workspace=ws, actor=request.user, ip_address=client_ip(request), **changes)
                if form.cleaned_data.get("brand_logo_upload"):
                    services.brand_logo_set(owner=ws, actor=request.user, upload=form.cleaned_data["brand_logo_upload"],
                                            ip_address=client_ip(request))
                elif form.cleaned_data.get("brand_logo_clear") and ws.brand_logo:
                    services.brand_logo_set(owner=ws, actor=request.user, upload=None, ip_address=client_ip(request))
        except ValidationError as exc:
            if form.cleaned_data.get("brand_logo_upload") and not getattr(exc, "error_dict", None):
                form.add_error("brand_logo_upload", exc)
            else:
                add_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("ws-settings", workspace_slug=ws.slug)
    return render(request, "tenants/settings.html", {"form": form})


@workspace_view()
def audit_log(request, workspace_slug):
    events = AuditEvent.objects.filter(workspace=request.workspace).select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "tenants/audit_log.html", {"page": page})


def invitation_accept(request, token):
    """An invitee sets a name and password; the account is created and the role granted."""
    invitation = services.invitation_find(token=token)
    if invitation is None:
        return render(request, "tenants/invitation_invalid.html", status=404)
    existing = get_user_model().objects.filter(email__iexact=invitation.email).first()
    if existing is not None:
        # The address has an account: its owner logs in to accept; the link alone must
        # not log anyone into an existing account.
        if not request.user.is_authenticated or request.user.pk != existing.pk:
            messages.info(request, f"{invitation.email} already has an account: log in as it to accept.")
            return redirect_to_login(request.get_full_path())
        if request.method == "POST":
            services.invitation_accept_existing(invitation=invitation, user=existing)
            messages.success(request, f"Welcome to {invitation.workspace.name}.")
            return redirect("ws-home", workspace_slug=invitation.workspace.slug)
        return render(request, "tenants/invitation_accept.html", {"invitation": invitation, "existing": True})
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_validation.validate_password(form.cleaned_data["password1"])
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            try:
                user = services.invitation_accept(
                    invitation=invitation, first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"], password=form.cleaned_data["password1"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome to {invitation.workspace.name}.")
                return redirect("ws-home", workspace_slug=invitation.workspace.slug)
    return render(request, "tenants/invitation_accept.html", {"invitation": invitation, "form": form})




@require_GET
def brand_logo(request, kind, slug):
    """A client's or an agency's logo, public: the unsubscribe and preference pages show
    it to people who are not logged in. Always our own redrawn PNG (tenants.branding)."""
    model = {"w": Workspace, "o": Organization}.get(kind)
    owner = model.objects.filter(slug=slug).exclude(brand_logo="").first() if model else None
    if owner is None:
        raise Http404("No logo.")
    try:
        handle = owner.brand_logo.open("rb")
    except FileNotFoundError:
        raise Http404("No logo.") from None
    response = FileResponse(handle, content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
