from django.contrib import admin

from apps.core.admin_actions import NoAddAdmin, service_action

from . import devices, media, senders, services
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
class SenderDomainAdmin(NoAddAdmin):
    """A platform admin may verify a domain by hand (the "Verify" action, through the
    service: audited), e.g. after checking DNS. Domains are added in the workspace, which
    mails the confirmation link."""

    list_display = ["domain", "workspace", "status", "confirm_address", "verified_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["domain", "workspace__slug"]
    # The hash of a pending link is of no use to anyone reading the admin.
    exclude = ["token_hash"]
    readonly_fields = ["domain", "status", "verified_at", "verified_via", "link_sent_at", "created_by", "created_at"]
    actions = [service_action(
        "verify", "Verify by hand (after checking the domain's DNS)",
        lambda request, sender: senders.sender_domain_verify(workspace=sender.workspace, actor=request.user,
                                                             domain=sender.domain), "domain(s) verified")]


@admin.register(ContentTemplate)
class ContentTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "channel", "entity_key", "updated_at"]
    list_filter = ["channel", "workspace"]
    search_fields = ["name"]


def _delivery(service):
    return lambda request, delivery: service(workspace=delivery.workspace, delivery=delivery)


@admin.register(Delivery)
class DeliveryAdmin(NoAddAdmin):
    """Made by channel activities and proofs; paused, resumed or stopped through the
    services (claims, held messages), never by editing `status`."""

    list_display = ["pk", "name", "workspace", "channel", "status", "total", "proof", "created_at", "finished_at"]
    list_filter = ["channel", "status", "proof", "workspace"]
    search_fields = ["name"]
    readonly_fields = ["campaign", "run", "node_id", "status", "content", "options", "counts", "total", "files",
                       "created_by", "heartbeat_at", "outage_since", "outage_failures", "outage_error", "paused_until",
                       "finished_at"]
    actions = [
        service_action("pause", "Pause: hold the queued messages", _delivery(services.delivery_pause),
                       "delivery(ies) paused"),
        service_action("resume", "Resume paused deliveries", _delivery(services.delivery_resume),
                       "delivery(ies) resumed"),
        service_action("stop", "Stop: cancel the queued messages", _delivery(services.delivery_stop),
                       "delivery(ies) stopped"),
    ]


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
class MessageEventAdmin(NoAddAdmin):
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
    readonly_fields = ["active", "deactivated_at", "deactivated_reason"]
    actions = [service_action(
        "deactivate", "Deactivate: stop sending to these devices",
        lambda request, sub: devices.push_subscription_deactivate(subscription=sub, reason="admin"),
        "device(s) deactivated")]

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
