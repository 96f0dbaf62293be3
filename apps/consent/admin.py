from django.contrib import admin

from .models import (
    ConsentEvent,
    ConsentState,
    FrequencyCap,
    QuietHours,
    RuleSet,
    SoftBounce,
    Suppression,
    Topic,
    WorkspacePolicy,
)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "workspace", "channel", "policy"]
    list_filter = ["channel", "policy", "workspace"]
    search_fields = ["name", "key"]


class ReadOnly(admin.ModelAdmin):
    """Written by the consent services only (the ledger is append-only)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnly):
    list_display = ["pk", "workspace", "profile_key", "topic", "granted", "source", "at", "recorded_at"]
    list_filter = ["granted", "source", "channel"]
    search_fields = ["=profile_key"]
    show_full_result_count = False


@admin.register(ConsentState)
class ConsentStateAdmin(ReadOnly):
    list_display = ["pk", "workspace", "profile_key", "topic", "granted", "at"]
    list_filter = ["granted"]
    search_fields = ["=profile_key"]
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "workspace", "reason", "hashed", "expires_at", "created_at"]
    list_filter = ["kind", "reason", "workspace"]
    search_fields = ["=value"]


@admin.register(SoftBounce)
class SoftBounceAdmin(admin.ModelAdmin):
    list_display = ["address", "workspace", "count", "last_at"]
    list_filter = ["workspace"]
    search_fields = ["=address"]


class FrequencyCapInline(admin.TabularInline):
    model = FrequencyCap
    extra = 0
    fields = ["channel", "limit", "period"]


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]
    inlines = [FrequencyCapInline]

    def save_formset(self, request, form, formset, change):
        for cap in formset.save(commit=False):
            cap.workspace = form.instance.workspace
            cap.save()
        formset.save_m2m()
        for cap in formset.deleted_objects:
            cap.delete()


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ["rule_set", "workspace", "channel", "limit", "period"]
    list_filter = ["period", "channel"]
    search_fields = ["rule_set__name"]


@admin.register(QuietHours)
class QuietHoursAdmin(admin.ModelAdmin):
    list_display = ["workspace", "channel", "allowed_from", "allowed_until"]
    list_filter = ["channel"]
    search_fields = ["workspace__slug"]


@admin.register(WorkspacePolicy)
class WorkspacePolicyAdmin(admin.ModelAdmin):
    list_display = ["workspace", "four_eyes", "soft_bounce_threshold", "unsubscribe_link_days"]
    list_filter = ["workspace__four_eyes"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__slug"]

    # The four-eyes rule is the workspace's (edited on the workspace's admin page).
    @admin.display(boolean=True, description="four eyes", ordering="workspace__four_eyes")
    def four_eyes(self, obj):
        return obj.workspace.four_eyes
