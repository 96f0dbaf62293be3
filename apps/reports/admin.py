"""The report rollups are derived from the message ledger (kept by its triggers and the
compaction job), so the admin reads them only; weekly report subscriptions can be edited."""

from django.contrib import admin

from .models import DeliveryRollup, DomainRollup, LinkRollup, ReportSubscription, RollupDelta


class DerivedAdmin(admin.ModelAdmin):
    raw_id_fields = ["delivery", "workspace"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(DeliveryRollup)
class DeliveryRollupAdmin(DerivedAdmin):
    list_display = ["delivery", "workspace", "hour", "metric", "n"]
    list_filter = ["metric"]
    search_fields = ["workspace__slug", "=metric"]


@admin.register(LinkRollup)
class LinkRollupAdmin(DerivedAdmin):
    list_display = ["delivery", "workspace", "url", "total", "uniq"]
    list_filter = ["workspace"]
    search_fields = ["workspace__slug", "url"]


@admin.register(DomainRollup)
class DomainRollupAdmin(DerivedAdmin):
    list_display = ["delivery", "workspace", "domain", "metric", "n"]
    list_filter = ["metric"]
    search_fields = ["workspace__slug", "domain"]


@admin.register(RollupDelta)
class RollupDeltaAdmin(DerivedAdmin):
    """Deltas not yet folded into the rollups (the compaction job empties this every minute)."""

    list_display = ["pk", "workspace", "delivery", "kind", "hour", "key", "metric", "n", "uniq"]
    list_filter = ["kind"]
    search_fields = ["workspace__slug", "=metric"]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["campaign", "workspace", "weekday", "hour", "created_by", "last_sent_at"]
    list_filter = ["weekday"]
    search_fields = ["workspace__slug", "campaign__name"]
    raw_id_fields = ["campaign", "workspace", "created_by"]
    readonly_fields = ["last_sent_at", "created_at"]
