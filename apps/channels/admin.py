from django.contrib import admin

from . import media
from .models import (
    ChannelConfig,
    ContentTemplate,
    Delivery,
    MediaImage,
    Message,
    MessageEvent,
    PushSubscription,
    SenderDomain,
    ShortLink,
    SmsReceipt,
)


@admin.register(ChannelConfig)
class ChannelConfigAdmin(admin.ModelAdmin):
    list_display = ["workspace", "channel", "backend", "rate_per_second", "window_hours", "updated_at"]
    list_filter = ["channel", "backend"]
    search_fields = ["workspace__slug", "from_email"]
    # The secret is never shown, not even encrypted: it is set on the workspace's email page.
    exclude = ["secret_encrypted"]
    readonly_fields = ["secret_hint"]


@admin.register(SenderDomain)
class SenderDomainAdmin(admin.ModelAdmin):
    """A platform admin may verify a domain by hand (status), e.g. after checking DNS."""

    list_display = ["domain", "workspace", "status", "confirm_address", "verified_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["domain", "workspace__slug"]
    # The hash of a pending link is of no use to anyone reading the admin.
    exclude = ["token_hash"]
    readonly_fields = ["link_sent_at", "created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if obj.status == "verified" and obj.verified_at is None:
            from django.utils import timezone  # noqa: PLC0415

            obj.verified_at, obj.token_hash, obj.verified_via = timezone.now(), "", "admin"
        super().save_model(request, obj, form, change)


@admin.register(ContentTemplate)
class ContentTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "channel", "entity_key", "updated_at"]
    list_filter = ["channel", "workspace"]
    search_fields = ["name"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "name", "workspace", "channel", "status", "total", "proof", "created_at", "finished_at"]
    list_filter = ["channel", "status", "proof", "workspace"]
    search_fields = ["name"]
    readonly_fields = ["campaign", "run", "node_id", "content", "options", "counts", "total", "files", "created_by",
                       "heartbeat_at", "outage_since", "outage_failures", "outage_error", "paused_until"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The ledger: read only (messages change state only through the sending engine)."""

    list_display = ["pk", "delivery", "address", "status", "reason", "attempts", "sent_at"]
    list_filter = ["status"]
    search_fields = ["=address", "=profile_key"]
    raw_id_fields = ["delivery", "workspace"]
    show_full_result_count = False  # millions of rows: no count(*) per page

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(MessageEvent)
class MessageEventAdmin(admin.ModelAdmin):
    list_display = ["pk", "message", "type", "at"]
    list_filter = ["type"]
    search_fields = ["=message__address"]
    raw_id_fields = ["message", "workspace"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Devices are registered by the workspace's apps over the API; the admin reads them."""

    list_display = ["workspace", "profile_key", "platform", "app_id", "active", "last_seen_at"]
    list_filter = ["platform", "active"]
    search_fields = ["workspace__slug", "profile_key"]
    # The Web Push keys decrypt nothing for a reader but are the device's secret.
    exclude = ["keys"]

    def has_add_permission(self, request):
        return False


@admin.register(ShortLink)
class ShortLinkAdmin(admin.ModelAdmin):
    """The links behind the tracking domain's short redirect: written when a delivery sends."""

    list_display = ["pk", "delivery", "workspace", "url", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["workspace__slug", "url"]
    raw_id_fields = ["delivery", "workspace"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(SmsReceipt)
class SmsReceiptAdmin(admin.ModelAdmin):
    """The providers' status callbacks as received: read to see why a text was undelivered."""

    list_display = ["pk", "workspace", "provider", "provider_message_id", "status", "error_code", "outcome",
                    "received_at", "settled_at"]
    list_filter = ["provider", "status", "outcome"]
    search_fields = ["=provider_message_id", "workspace__slug"]
    raw_id_fields = ["message", "workspace"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(MediaImage)
class MediaImageAdmin(admin.ModelAdmin):
    """Images uploaded for emails: added from the template editor (re-encoded there), deleted
    here with their files (emails already sent that show one then show a broken image)."""

    list_display = ["pk", "workspace", "original_name", "width", "height", "size", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["workspace__slug", "original_name", "=token"]
    raw_id_fields = ["workspace", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        media.media_delete(images=MediaImage.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        media.media_delete(images=queryset)
