"""Tenants' pages: `urlpatterns`, the workspace screens under /w/<slug>/; `account_patterns`,
login, logout and passwords under /accounts/ (config/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import accounts, agency
from .views import workspaces as views

urlpatterns = [
    path("", views.workspace_home, name="ws-home"),
    path("members/", views.members, name="ws-members"),
    path("members/<int:user_id>/role/", views.member_role, name="ws-member-role"),
    path("members/<int:user_id>/remove/", views.member_remove, name="ws-member-remove"),
    path("invitations/<int:pk>/cancel/", views.invitation_cancel, name="ws-invitation-cancel"),
    path("api-keys/", views.api_keys, name="ws-apikeys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="ws-apikey-revoke"),
    path("settings/", views.workspace_settings, name="ws-settings"),
    path("audit/", views.audit_log, name="ws-audit"),
]

# Login, logout and passwords, under /accounts/.
account_patterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
]

# /agency/<org_slug>/...: the agency's management actions (its home page is the reports
# app's, at the same prefix).
agency_patterns = [
    path("workspaces/new/", agency.workspace_new, name="agency-workspace-new"),
    path("workspaces/<slug:workspace_slug>/rename/", agency.workspace_rename, name="agency-workspace-rename"),
    path("workspaces/<slug:workspace_slug>/archive/", agency.workspace_archive, name="agency-workspace-archive"),
    path("workspaces/<slug:workspace_slug>/restore/", agency.workspace_restore, name="agency-workspace-restore"),
    path("invite/", agency.invite, name="agency-invite"),
    path("logo/", agency.agency_logo, name="agency-logo"),
]
