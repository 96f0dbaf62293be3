from django.contrib import admin

from .models import Audience


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "entity", "origin", "status", "size", "last_evaluated_at", "updated_at"]
    list_filter = ["origin", "status", "workspace"]
    search_fields = ["name", "description", "workspace__slug"]
    readonly_fields = ["entity", "origin", "definition", "size", "last_evaluated_at", "upload_report", "status",
                       "status_message", "source_audience", "created_by", "updated_by"]

    def has_add_permission(self, request):
        return False  # audiences are built in the workspace (their key tables with them)
