from django.urls import path

from . import views

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
