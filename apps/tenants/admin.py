from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from guardian.admin import GuardedModelAdmin

from apps.core.admin_actions import service_action

from . import audit_words, lifecycle, services
from .models import ApiKey, AuditEvent, Invitation, Membership, Organization, User, Workspace


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Workspace)
class WorkspaceAdmin(GuardedModelAdmin):
    """Workspace roles are object permissions: 'Object permissions' on a workspace edits them."""

    list_display = ["name", "slug", "organization", "time_zone", "default_language", "created_at", "archived_at"]
    list_filter = ["organization", "time_zone"]
    search_fields = ["name", "slug", "organization__name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["archived_at"]
    actions = ["archive_workspaces", "restore_workspaces"]

    # Deleting (the built-in action and the delete page) goes through the service: the
    # schema, every tenant row and the files go, which Django's cascade cannot do.
    def delete_model(self, request, obj):
        lifecycle.workspace_delete(workspace=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for workspace in queryset:
            lifecycle.workspace_delete(workspace=workspace, actor=request.user)

    def get_deleted_objects(self, objs, request):
        # The cascade preview would list PROTECTed consent rows as blocking; the service
        # deletes them in the same transaction. Show the workspaces themselves.
        return [str(obj) for obj in objs], {"workspaces": len(objs)}, set(), []

    @admin.action(description="Archive: read-only, schedules paused, nothing sent")
    def archive_workspaces(self, request, queryset):
        self._each(request, queryset, lifecycle.workspace_archive, "archived")

    @admin.action(description="Restore archived workspaces")
    def restore_workspaces(self, request, queryset):
        self._each(request, queryset, lifecycle.workspace_restore, "restored")

    def _each(self, request, queryset, service, done):
        count = 0
        for workspace in queryset:
            try:
                service(workspace=workspace, actor=request.user)
                count += 1
            except ValidationError as exc:
                self.message_user(request, f"{workspace}: {' '.join(exc.messages)}", messages.ERROR)
        if count:
            self.message_user(request, f"{count} workspace(s) {done}.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "workspace", "role", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["name", "prefix", "workspace__slug"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "revoked_at"]
    actions = [service_action(
        "revoke", "Revoke: the keys stop working at once",
        lambda request, key: services.api_key_revoke(workspace=key.workspace, actor=request.user, api_key=key),
        "key(s) revoked")]

    def has_add_permission(self, request):
        return False  # keys are created in the workspace so the secret can be shown once


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "created_at", "expires_at", "accepted_at", "cancelled_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["email", "workspace__slug"]
    readonly_fields = ["token_hash", "accepted_at", "cancelled_at"]
    actions = [service_action(
        "cancel", "Cancel: the invitation link stops working",
        lambda request, invitation: services.invitation_cancel(workspace=invitation.workspace, actor=request.user,
                                                               invitation=invitation), "invitation(s) cancelled")]

    def has_add_permission(self, request):
        return False  # invitations are sent from the workspace (the link is mailed once)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "actor_label", "summary", "ip_address"]
    list_filter = ["verb", "workspace"]
    search_fields = ["actor_label", "verb", "target_repr", "target_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["summary"]

    @admin.display(description="What")
    def summary(self, obj: AuditEvent) -> str:
        return audit_words.summary(obj.verb, obj.target_repr, obj.data)

    def has_add_permission(self, request):
        return False  # append-only: written by the services

    def has_change_permission(self, request, obj=None):
        return False  # append-only

    def has_delete_permission(self, request, obj=None):
        return False
