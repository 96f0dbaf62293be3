from django.contrib import admin

from apps.core.admin_actions import NoAddAdmin, service_action

from . import services
from .models import (
    ActivityRun,
    ApprovalEvent,
    ApprovalRequest,
    Campaign,
    CampaignSchedule,
    CampaignVersion,
    Run,
)


def _campaign(service):
    return lambda request, campaign: service(workspace=campaign.workspace, actor=request.user, campaign=campaign)


class VersionInline(admin.TabularInline):
    model = CampaignVersion
    extra = 0
    fields = ["number", "published_at", "published_by", "edited_by", "updated_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Campaign)
class CampaignAdmin(NoAddAdmin):
    """Made in the workspace (with its first version); its status changes through the
    lifecycle actions, which run the services (beat entries, held messages, audit)."""

    list_display = ["name", "workspace", "status", "created_at", "updated_at"]
    list_filter = ["status", "workspace"]
    search_fields = ["name", "description", "workspace__slug"]
    readonly_fields = ["status"]
    inlines = [VersionInline]
    actions = [
        service_action("pause", "Pause: no new run starts, queued messages held", _campaign(services.campaign_pause),
                       "campaign(s) paused"),
        service_action("resume", "Resume paused campaigns", _campaign(services.campaign_resume),
                       "campaign(s) resumed"),
        service_action("close", "Close: a recurring campaign takes no new runs", _campaign(services.campaign_close),
                       "campaign(s) closed"),
        service_action("stop", "Stop: running runs stop, queued messages cancelled",
                       _campaign(services.campaign_stop), "campaign(s) stopped"),
        service_action("archive", "Archive", _campaign(services.campaign_archive), "campaign(s) archived"),
    ]


@admin.register(Run)
class RunAdmin(NoAddAdmin):
    """Runs are started in the workspace or by schedules; "Stop" runs the service."""

    list_display = ["pk", "campaign", "workspace", "mode", "status", "trigger", "scheduled_for", "started_at",
                    "finished_at"]
    list_filter = ["mode", "status", "trigger", "workspace"]
    search_fields = ["campaign__name", "error"]
    date_hierarchy = "created_at"
    readonly_fields = ["campaign", "version", "mode", "status", "trigger", "scheduled_for", "variables", "created_by",
                       "site_url"]
    actions = [service_action("stop_runs", "Stop: nothing new starts, queued messages cancelled",
                              lambda request, run: services.run_stop(workspace=run.workspace, actor=request.user,
                                                                     run=run), "run(s) stopped")]


@admin.register(ActivityRun)
class ActivityRunAdmin(NoAddAdmin):
    list_display = ["run", "node_id", "type", "status", "attempts", "rows_in", "rows_out", "started_at",
                    "finished_at"]
    list_filter = ["status", "type", "workspace"]
    search_fields = ["node_id", "error", "run__campaign__name"]
    readonly_fields = ["run", "node_id", "type", "status", "outlets", "report", "log"]


@admin.register(CampaignSchedule)
class CampaignScheduleAdmin(NoAddAdmin):
    list_display = ["campaign", "workspace", "grace_minutes", "periodic_task", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["campaign__name"]


@admin.register(CampaignVersion)
class CampaignVersionAdmin(NoAddAdmin):
    list_display = ["campaign", "number", "workspace", "published_at", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["campaign__name"]
    readonly_fields = ["campaign", "number", "definition", "published_at", "published_by", "edited_by"]


class ApprovalEventInline(admin.TabularInline):
    model = ApprovalEvent
    extra = 0
    fields = ["created_at", "kind", "author", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    """Read-only: requests move through the approval services (their audit log and emails)."""

    list_display = ["campaign", "version", "workspace", "status", "requested_by", "created_at", "decided_by",
                    "decided_at"]
    list_filter = ["status", "workspace"]
    search_fields = ["campaign__name", "reason"]
    readonly_fields = ["campaign", "version", "definition", "status", "requested_by", "decided_by", "decided_at",
                       "reason"]
    inlines = [ApprovalEventInline]

    def has_add_permission(self, request):
        return False


@admin.register(ApprovalEvent)
class ApprovalEventAdmin(admin.ModelAdmin):
    """An approval thread is append-only: read here, written by the approval services."""

    list_display = ["request", "kind", "author", "workspace", "created_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["body", "request__campaign__name"]
    readonly_fields = ["request", "kind", "author", "body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
