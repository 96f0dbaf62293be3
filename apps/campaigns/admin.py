from django.contrib import admin

from .models import ActivityRun, Campaign, CampaignSchedule, CampaignVersion, Run


class VersionInline(admin.TabularInline):
    model = CampaignVersion
    extra = 0
    fields = ["number", "published_at", "published_by", "edited_by", "updated_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "status", "created_at", "updated_at"]
    list_filter = ["status", "workspace"]
    search_fields = ["name", "description", "workspace__slug"]
    inlines = [VersionInline]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["pk", "campaign", "workspace", "mode", "status", "trigger", "scheduled_for", "started_at",
                    "finished_at"]
    list_filter = ["mode", "status", "trigger", "workspace"]
    search_fields = ["campaign__name", "error"]
    date_hierarchy = "created_at"
    readonly_fields = ["campaign", "version", "mode", "trigger", "scheduled_for", "variables", "created_by"]


@admin.register(ActivityRun)
class ActivityRunAdmin(admin.ModelAdmin):
    list_display = ["run", "node_id", "type", "status", "attempts", "rows_in", "rows_out", "started_at",
                    "finished_at"]
    list_filter = ["status", "type", "workspace"]
    search_fields = ["node_id", "error", "run__campaign__name"]
    readonly_fields = ["run", "node_id", "type", "outlets", "report", "log"]


@admin.register(CampaignSchedule)
class CampaignScheduleAdmin(admin.ModelAdmin):
    list_display = ["campaign", "workspace", "grace_minutes", "periodic_task", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["campaign__name"]


@admin.register(CampaignVersion)
class CampaignVersionAdmin(admin.ModelAdmin):
    list_display = ["campaign", "number", "workspace", "published_at", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["campaign__name"]
    readonly_fields = ["campaign", "number", "definition", "published_at", "published_by", "edited_by"]
